// timed_run.h -- what nvlab's benches share: running a command to completion while timing it
// (total and first stdout byte), and medians.

#ifndef NVLAB_BENCH_SUPPORT_TIMED_RUN_H_
#define NVLAB_BENCH_SUPPORT_TIMED_RUN_H_

#include <string>
#include <vector>

namespace nvlab::bench {

struct TimedRun {
  double first_output = -1;  // seconds to the first stdout byte; -1: none
  double total = 0;          // seconds until the command exited
  std::string out;
  std::string err;
  int status = -1;  // exit status; -1 when it did not exit normally
};

// RunTimed runs argv (stdin /dev/null, stdout and stderr captured) and times it.
TimedRun RunTimed(const std::vector<std::string>& argv);

double Median(std::vector<double> values);

}  // namespace nvlab::bench

#endif  // NVLAB_BENCH_SUPPORT_TIMED_RUN_H_
