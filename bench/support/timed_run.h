// timed_run.h -- what nvlab's benches share: running a command to completion while timing it
// (total and first stdout byte), and medians.

#ifndef NVLAB_BENCH_SUPPORT_TIMED_RUN_H_
#define NVLAB_BENCH_SUPPORT_TIMED_RUN_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace nvlab::bench {

struct TimedRun {
  double first_output = -1;  // seconds to the first stdout byte; -1: none
  double total = 0;          // seconds until the command exited
  // Host CPU (user + system seconds) of the command and of every descendant it waited for (an
  // nvlab and its QEMU): steadier than `total` on a host whose other load comes and goes.
  double cpu = 0;
  // The user seconds of `cpu` alone. A guest's first touches of memory (the kernel zeroing
  // pages for QEMU) are system time, and on a host whose hypervisor takes back freed memory
  // their cost depends on what ran just before (BENCHMARKS.md, "The model's cost per event"):
  // user time leaves that out.
  double user_cpu = 0;
  std::string out;
  std::string err;
  int status = -1;  // exit status; -1 when it did not exit normally
};

// RunTimed runs argv (stdin /dev/null, stdout and stderr captured) and times it. When given,
// at_first_output is called with the child's PID as its first stdout bytes arrive (to look at
// the child's processes while they run).
TimedRun RunTimed(const std::vector<std::string>& argv,
                  const std::function<void(pid_t)>& at_first_output = nullptr);

double Median(std::vector<double> values);

}  // namespace nvlab::bench

#endif  // NVLAB_BENCH_SUPPORT_TIMED_RUN_H_
