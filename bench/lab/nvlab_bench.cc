// nvlab_bench.cc -- nvlab-bench: the lab's speed, measured end to end with the staged nvlab
// command, medians of N runs (default 5), printed side by side in one run:
//
//   first output     time from starting `nvlab run` to the command's first stdout byte
//   run              the whole `nvlab run -- true` (boot, command, power-off)
//   power-cycle      a full `nvlab power-cycle` round trip (two boots, a cut)
//   workload         a guest workload (nvlab-records, flushed and drained records): the whole
//                    run and the command alone (from --json command_seconds)
//
// each with the persistence model off (plain TCG) and on, and the ratio on/off.
// Usage: nvlab-bench [--runs N] [--records N] [--nvlab PATH]

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  double first_output = -1;  // seconds to the first stdout byte
  double total = 0;          // seconds until nvlab exited
  std::string out;
  int status = -1;
};

Sample RunOnce(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int out_pipe[2];
  Sample s;
  if (pipe(out_pipe) != 0) return s;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  const auto start = Clock::now();
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    return s;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = read(out_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;
    if (s.first_output < 0) {
      s.first_output = std::chrono::duration<double>(Clock::now() - start).count();
    }
    s.out.append(buf, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  s.total = std::chrono::duration<double>(Clock::now() - start).count();
  s.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return s;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// CommandSeconds reads "command_seconds": X from nvlab's --json output.
double CommandSeconds(const std::string& out) {
  const size_t at = out.rfind("\"command_seconds\":");
  return at == std::string::npos ? -1 : std::atof(out.c_str() + at + 18);
}

struct Row {
  std::string name;
  double off = 0;
  double on = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  int records = 20000;
  std::string nvlab;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--records" && i + 1 < argc) {
      records = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--nvlab" && i + 1 < argc) {
      nvlab = argv[++i];
    } else {
      (void)std::fprintf(stderr, "usage: nvlab-bench [--runs N] [--records N] [--nvlab PATH]\n");
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
  std::vector<Row> rows = {{"first output (s)"},
                           {"run -- true (s)"},
                           {"power-cycle (s)"},
                           {"workload: whole run (s)"},
                           {"workload: command (s)"}};
  for (const char* model : {"off", "on"}) {
    std::vector<double> first, run, cycle, whole, command;
    // Alternate nothing within a model: each configuration's runs are consecutive, and the
    // models are measured back to back in one invocation.
    for (int i = 0; i < runs; ++i) {
      Sample s = RunOnce({nvlab, "run", "--model", model, "--", "echo first"});
      if (s.status != 0) {
        (void)std::fprintf(stderr, "nvlab-bench: nvlab run failed (exit %d)\n", s.status);
        return 1;
      }
      first.push_back(s.first_output);
      s = RunOnce({nvlab, "run", "--model", model, "--", "true"});
      run.push_back(s.total);
      s = RunOnce({nvlab, "power-cycle", "--model", model, "--before", "true", "--after", "true"});
      cycle.push_back(s.total);
      s = RunOnce({nvlab, "run", "--json", "--model", model, "--", workload});
      whole.push_back(s.total);
      command.push_back(CommandSeconds(s.out));
      (void)std::fprintf(stderr, "nvlab-bench: model %s, run %d of %d done\n", model, i + 1, runs);
    }
    const bool on = std::strcmp(model, "on") == 0;
    double* slot[] = {on ? &rows[0].on : &rows[0].off, on ? &rows[1].on : &rows[1].off,
                      on ? &rows[2].on : &rows[2].off, on ? &rows[3].on : &rows[3].off,
                      on ? &rows[4].on : &rows[4].off};
    *slot[0] = Median(first);
    *slot[1] = Median(run);
    *slot[2] = Median(cycle);
    *slot[3] = Median(whole);
    *slot[4] = Median(command);
  }
  std::printf("nvlab-bench: medians of %d runs, TCG, workload = %d flushed+drained records\n", runs,
              records);
  std::printf("%-26s %12s %12s %8s\n", "measure", "model off", "model on", "on/off");
  for (const Row& r : rows) {
    std::printf("%-26s %12.2f %12.2f %8.2fx\n", r.name.c_str(), r.off, r.on,
                r.off > 0 ? r.on / r.off : 0.0);
  }
  return 0;
}
