// timed_run.cc -- RunTimed, Median.

#include "timed_run.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <string_view>

#include "nvlab/subprocess.h"

namespace nvlab::bench {
namespace {

// ChildrenCpu is the user and system seconds of this process's waited-for descendants so far.
struct ChildrenCpu {
  double user = 0;
  double system = 0;
};

ChildrenCpu ChildrenCpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_CHILDREN, &usage) != 0) return {};
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

}  // namespace

TimedRun RunTimed(const std::vector<std::string>& argv,
                  const std::function<void(pid_t)>& at_first_output) {
  using Clock = std::chrono::steady_clock;
  TimedRun run;
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kCapture;
  options.stderr_to = SubprocessOptions::Stream::kCapture;
  // The children's usage grows by what this child and its waited-for descendants used: the
  // bench runs one command at a time.
  const ChildrenCpu cpu_before = ChildrenCpuSeconds();
  const auto start = Clock::now();
  Subprocess child;
  const Status started = Subprocess::Start(argv, options, &child);
  if (!started.ok()) {
    run.err = started.ToString();
    return run;
  }
  const Status waited = child.Wait(Deadline::Never(), [&](int stream, std::string_view) {
    if (stream == 1 && run.first_output < 0) {
      run.first_output = std::chrono::duration<double>(Clock::now() - start).count();
      if (at_first_output) at_first_output(child.pid());
    }
  });
  run.total = std::chrono::duration<double>(Clock::now() - start).count();
  const ChildrenCpu cpu_after = ChildrenCpuSeconds();
  run.user_cpu = cpu_after.user - cpu_before.user;
  run.cpu = run.user_cpu + (cpu_after.system - cpu_before.system);
  run.out = std::move(child.stdout_text());
  run.err = std::move(child.stderr_text());
  if (!waited.ok()) run.err += "\n" + waited.ToString();
  run.status = child.exited() ? child.exit_code() : -1;
  return run;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace nvlab::bench
