// nvlab_explore_bench.cc -- nvlab-explore-bench: crash-state exploration's speed on the crash
// corpus (tests/exploration/corpus), end to end with the staged nvlab command, medians of N runs
// (default 3), one row per corpus program, printed side by side in one run:
//
//   states        crash states at the default crash points (before each ordering fence, the end)
//   pruned        `nvlab explore` as it runs by default: the checks it ran (distinct images), the
//                 states pruning decided without a check, the check loop's seconds (the check
//                 guests' start included) and the states decided a second (checked, answered
//                 from the image cache or pruned)
//   exhaustive    `--no-prune`: the checks run, the loop's seconds, of which the check guests'
//                 start, checks a second, and checks a second once the guests are up
//   record        the recording run (boot, workload, power-off) against `nvlab run --model off`
//                 of the same workload: seconds, and the ratio
//
// The exhaustive run explores the pruned run's recording again. The two must agree on the
// states and the failed ones (pruning is sound): a row where they do not, or any nvlab failure,
// ends the bench with an error. Exit status 1 from explore
// is a verdict (a mutant's failing states), not a failure.
// Usage: nvlab-explore-bench [--runs N] [--jobs J] [--programs LIST] [--nvlab PATH]
//                            [--share DIR]
//   LIST: comma-separated PROGRAM:VARIANT (default: the ten of the corpus)

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_main.h"
#include "timed_run.h"

namespace {

using nvlab::bench::Median;
using nvlab::bench::RunTimed;
using nvlab::bench::TimedRun;

// One exploration's figures, from its --json report.
struct Explored {
  double states = 0, checks = 0, decided = 0, pruned = 0, failed = 0;
  double record = 0, loop = 0, start = 0;
};

[[noreturn]] void Fail(const std::string& what, const TimedRun& run) {
  (void)std::fprintf(stderr, "nvlab-explore-bench: %s (exit %d):\n%s\n", what.c_str(), run.status,
                     run.err.c_str());
  std::exit(1);
}

double Number(const nlohmann::json& value) {
  // Counts of states are strings in the report (they may exceed 64 bits).
  if (value.is_string()) return std::strtod(value.get<std::string>().c_str(), nullptr);
  return value.is_number() ? value.get<double>() : 0;
}

// Explore runs one exploration of `program`, recording into `recording` or, when it holds the
// recording already, exploring that again.
Explored Explore(const std::string& nvlab, const std::string& share, const std::string& program,
                 int jobs, bool prune, const std::filesystem::path& recording,
                 const std::filesystem::path& json) {
  const std::string command = "/host/crash-corpus " + program;
  std::vector<std::string> args = {nvlab,         "explore",
                                   "--share",     share,
                                   "--jobs",      std::to_string(jobs),
                                   "--json",      json.string(),
                                   "--recording", recording.string(),
                                   "--workload",  command + " write \"$NVLAB_PMEM\"",
                                   "--check",     command + " check \"$NVLAB_PMEM\""};
  if (!prune) args.emplace_back("--no-prune");
  std::error_code ignored;
  std::filesystem::remove(json, ignored);
  const TimedRun run = RunTimed(args);
  if (run.status != 0 && run.status != 1) Fail("explore " + program + " failed", run);
  std::FILE* f = std::fopen(json.c_str(), "r");
  if (f == nullptr) Fail("explore " + program + " wrote no report", run);
  const nlohmann::json report = nlohmann::json::parse(f, nullptr, false);
  (void)std::fclose(f);
  if (!report.is_object() || !report.contains("totals") || !report["totals"].is_object() ||
      !report.contains("seconds") || !report["seconds"].is_object()) {
    Fail("explore " + program + " wrote a report without totals", run);
  }
  const nlohmann::json& t = report["totals"];
  const nlohmann::json& s = report["seconds"];
  Explored e;
  e.states = Number(t.value("states", nlohmann::json()));
  e.checks = Number(t.value("distinct", nlohmann::json()));
  e.pruned = Number(t.value("pruned", nlohmann::json()));
  e.failed = Number(t.value("failed_states", nlohmann::json()));
  e.decided = e.states;
  e.record = Number(s.value("record", nlohmann::json()));
  e.loop = Number(s.value("explore", nlohmann::json()));
  e.start = Number(s.value("start", nlohmann::json()));
  return e;
}

struct Row {
  std::string program;
  std::vector<double> states, checks, pruned, loop, decided_rate;
  std::vector<double> all_checks, all_loop, all_start, all_rate, all_up_rate;
  std::vector<double> record, off, ratio;
};

std::string SelfDir() {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return ".";
  self[n] = '\0';
  return std::filesystem::path(self).parent_path().string();
}

int Main(int argc, char** argv) {
  int runs = 3;
  int jobs = 2;
  std::string nvlab = SelfDir() + "/nvlab";
  std::string share = NVLAB_CORPUS_SHARE;
  std::vector<std::string> programs = {"log-append correct",    "log-append missing-flush",
                                       "pointer-swing correct", "pointer-swing wrong-range",
                                       "two-field correct",     "two-field torn-16",
                                       "ring-buffer correct",   "ring-buffer missing-drain",
                                       "undo-log correct",      "undo-log missing-flush"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--jobs" && i + 1 < argc) {
      jobs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--nvlab" && i + 1 < argc) {
      nvlab = argv[++i];
    } else if (a == "--share" && i + 1 < argc) {
      share = argv[++i];
    } else if (a == "--programs" && i + 1 < argc) {
      programs.clear();
      std::string list = argv[++i];
      for (size_t at = 0; at <= list.size();) {
        const size_t comma = std::min(list.find(',', at), list.size());
        std::string item = list.substr(at, comma - at);
        const size_t colon = item.find(':');
        if (colon != std::string::npos) item[colon] = ' ';
        if (!item.empty()) programs.push_back(item);
        at = comma + 1;
      }
    } else {
      (void)std::fprintf(stderr,
                         "usage: nvlab-explore-bench [--runs N] [--jobs J] "
                         "[--programs PROGRAM:VARIANT,...] [--nvlab PATH] [--share DIR]\n");
      return 2;
    }
  }
  // The recordings go where nvlab explore keeps its own: TMPDIR, or /tmp.
  const char* tmp = std::getenv("TMPDIR");
  std::string scratch_template =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/nvlab-explore-bench-XXXXXX";
  if (mkdtemp(scratch_template.data()) == nullptr) {
    (void)std::fprintf(stderr, "nvlab-explore-bench: cannot make a scratch folder\n");
    return 1;
  }
  const std::filesystem::path scratch = scratch_template;
  std::vector<Row> rows(programs.size());
  for (int round = 0; round < runs; ++round) {
    for (size_t p = 0; p < programs.size(); ++p) {
      Row& row = rows[p];
      row.program = programs[p];
      // One recording for both (the workload's run is not deterministic: an interrupt between
      // two stores changes the events, and with them the states).
      const std::filesystem::path recording = scratch / "recording";
      std::filesystem::remove_all(recording);
      const Explored pruned =
          Explore(nvlab, share, programs[p], jobs, true, recording, scratch / "r.json");
      const Explored all =
          Explore(nvlab, share, programs[p], jobs, false, recording, scratch / "r.json");
      if (pruned.failed != all.failed || pruned.states != all.states) {
        (void)std::fprintf(stderr,
                           "nvlab-explore-bench: %s: pruned and exhaustive runs disagree "
                           "(%.0f/%.0f failed of %.0f/%.0f states)\n",
                           programs[p].c_str(), pruned.failed, all.failed, pruned.states,
                           all.states);
        return 1;
      }
      const TimedRun off = RunTimed({nvlab, "run", "--share", share, "--model", "off", "--",
                                     "/host/crash-corpus " + programs[p] +
                                         " write "
                                         "\"$NVLAB_PMEM\""});
      if (off.status != 0) Fail("run --model off " + programs[p] + " failed", off);
      row.states.push_back(pruned.states);
      row.checks.push_back(pruned.checks);
      row.pruned.push_back(pruned.pruned);
      row.loop.push_back(pruned.loop);
      row.decided_rate.push_back(pruned.loop > 0 ? pruned.decided / pruned.loop : 0);
      row.all_checks.push_back(all.checks);
      row.all_loop.push_back(all.loop);
      row.all_start.push_back(all.start);
      row.all_rate.push_back(all.loop > 0 ? all.checks / all.loop : 0);
      row.all_up_rate.push_back(all.loop > all.start ? all.checks / (all.loop - all.start) : 0);
      row.record.push_back(pruned.record);
      row.off.push_back(off.total);
      row.ratio.push_back(off.total > 0 ? pruned.record / off.total : 0);
    }
    (void)std::fprintf(stderr, "nvlab-explore-bench: round %d of %d done\n", round + 1, runs);
  }
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  std::printf(
      "nvlab-explore-bench: medians of %d runs, --jobs %d, devdax, ADR, default crash "
      "points\n",
      runs, jobs);
  std::printf("%-27s %7s | %-31s | %-38s | %-18s\n", "", "", "pruned (the default)",
              "exhaustive (--no-prune)", "record");
  std::printf("%-27s %7s | %6s %7s %7s %8s | %6s %7s %7s %7s %7s | %5s %5s %5s\n", "program",
              "states", "checks", "pruned", "loop s", "states/s", "checks", "loop s", "start s",
              "chk/s", "up/s", "s", "off s", "ratio");
  for (const Row& r : rows) {
    std::printf(
        "%-27s %7.0f | %6.0f %7.0f %7.2f %8.1f | %6.0f %7.2f %7.2f %7.1f %7.1f | %5.2f %5.2f "
        "%4.2fx\n",
        r.program.c_str(), Median(r.states), Median(r.checks), Median(r.pruned), Median(r.loop),
        Median(r.decided_rate), Median(r.all_checks), Median(r.all_loop), Median(r.all_start),
        Median(r.all_rate), Median(r.all_up_rate), Median(r.record), Median(r.off),
        Median(r.ratio));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nvlab::bench::RunBench("nvlab-explore-bench", Main, argc, argv);
}
