// nvlab_bench.cc -- nvlab-bench: the lab's speed, measured end to end with the staged nvlab
// command, medians of N runs (default 5), printed side by side in one run:
//
//   first output     time from starting `nvlab run` to the command's first stdout byte
//   run              the whole `nvlab run -- true` (boot, command, power-off)
//   power-cycle      a full `nvlab power-cycle` round trip (two boots, a cut)
//   workload         a guest workload (nvlab-records, flushed and drained records): the whole
//                    run and the command alone (from --json command_seconds)
//
// each with the persistence model off (plain TCG), on (the default), on with --trace-stores
// user and on with --trace-stores on, and the ratios to "off". The configurations alternate
// within each round, so that a change in the host's load affects them alike.
// Usage: nvlab-bench [--runs N] [--records N] [--configs LIST] [--nvlab PATH]
//   LIST: comma-separated names among off,on,user,all (default: all four; "off" is always run,
//   as the ratios' base)

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "timed_run.h"

namespace {

using nvlab::bench::Median;
using Sample = nvlab::bench::TimedRun;

Sample RunOnce(const std::vector<std::string>& args) {
  return nvlab::bench::RunTimed(args);
}

// CommandSeconds reads "command_seconds": X from nvlab's --json output.
double CommandSeconds(const std::string& out) {
  const size_t at = out.rfind("\"command_seconds\":");
  return at == std::string::npos ? -1 : std::atof(out.c_str() + at + 18);
}

// A Config is one way of running the lab: the options every nvlab call of the row gets.
struct Config {
  const char* key;  // --configs name
  const char* name;
  const char* ratio_name;  // the ratio column's heading
  std::vector<std::string> options;
};

// Measures are the figures of one configuration (medians).
struct Measures {
  double first = 0, run = 0, cycle = 0, whole = 0, command = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  int records = 20000;
  std::string nvlab;
  std::string wanted = "off,on,user,all";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--records" && i + 1 < argc) {
      records = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--nvlab" && i + 1 < argc) {
      nvlab = argv[++i];
    } else if (a == "--configs" && i + 1 < argc) {
      wanted = argv[++i];
    } else {
      (void)std::fprintf(stderr,
                         "usage: nvlab-bench [--runs N] [--records N] [--configs off,on,user,all] "
                         "[--nvlab PATH]\n");
      return 2;
    }
  }
  if (nvlab.empty()) {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return 1;
    self[n] = '\0';
    nvlab = std::string(self).substr(0, std::string(self).rfind('/')) + "/nvlab";
  }
  const std::string workload =
      "nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --count " +
      std::to_string(records) + " >/dev/null";
  const std::vector<Config> known = {
      {"off", "model off", "", {"--model", "off"}},
      {"on", "model on", "on/off", {"--model", "on"}},
      {"user", "on+trace user", "user/off", {"--model", "on", "--trace-stores", "user"}},
      {"all", "on+trace on", "all/off", {"--model", "on", "--trace-stores", "on"}},
  };
  std::vector<Config> configs;
  for (const Config& c : known) {
    if (std::string(c.key) == "off" ||
        ("," + wanted + ",").find(std::string(",") + c.key + ",") != std::string::npos) {
      configs.push_back(c);
    }
  }
  // Samples per configuration: first output, run, power-cycle, workload whole and command.
  struct Samples {
    std::vector<double> first, run, cycle, whole, command;
  };
  std::vector<Samples> samples(configs.size());
  for (int i = 0; i < runs; ++i) {
    for (size_t c = 0; c < configs.size(); ++c) {
      const Config& config = configs[c];
      auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
        head.insert(head.end(), config.options.begin(), config.options.end());
        head.insert(head.end(), tail.begin(), tail.end());
        return head;
      };
      // Every measured run must succeed: a failure prints nvlab's stderr and ends the bench.
      auto measured = [&](const std::vector<std::string>& args) {
        Sample s = RunOnce(args);
        if (s.status != 0) {
          (void)std::fprintf(stderr, "nvlab-bench: %s: '%s ...' failed (exit %d):\n%s\n",
                             config.name, args[1].c_str(), s.status, s.err.c_str());
          std::exit(1);
        }
        return s;
      };
      Sample s = measured(with({nvlab, "run"}, {"--", "echo first"}));
      Samples& out = samples[c];
      out.first.push_back(s.first_output);
      out.run.push_back(measured(with({nvlab, "run"}, {"--", "true"})).total);
      out.cycle.push_back(
          measured(with({nvlab, "power-cycle"}, {"--before", "true", "--after", "true"})).total);
      s = measured(with({nvlab, "run", "--json"}, {"--", workload}));
      out.whole.push_back(s.total);
      out.command.push_back(CommandSeconds(s.out));
      (void)std::fprintf(stderr, "nvlab-bench: round %d of %d: %s done\n", i + 1, runs,
                         config.name);
    }
  }
  std::vector<Measures> measures;
  measures.reserve(samples.size());
  for (const Samples& s : samples) {
    measures.push_back(
        {Median(s.first), Median(s.run), Median(s.cycle), Median(s.whole), Median(s.command)});
  }
  std::printf("nvlab-bench: medians of %d runs, TCG, workload = %d flushed+drained records\n", runs,
              records);
  std::printf("%-24s", "measure (s)");
  for (const Config& c : configs) std::printf(" %14s", c.name);
  for (size_t c = 1; c < configs.size(); ++c) std::printf(" %9s", configs[c].ratio_name);
  std::printf("\n");
  const struct {
    const char* name;
    double Measures::*field;
  } kRows[] = {{"first output", &Measures::first},
               {"run -- true", &Measures::run},
               {"power-cycle", &Measures::cycle},
               {"workload: whole run", &Measures::whole},
               {"workload: command", &Measures::command}};
  for (const auto& row : kRows) {
    std::printf("%-24s", row.name);
    for (const Measures& m : measures) std::printf(" %14.2f", m.*row.field);
    const double off = measures[0].*row.field;
    for (size_t c = 1; c < measures.size(); ++c) {
      std::printf(" %8.2fx", off > 0 ? measures[c].*row.field / off : 0.0);
    }
    std::printf("\n");
  }
  return 0;
}
