// guest_timer_calibration.cc -- HostTscHertz, TcgTimerCalibration, KernelParameters.

#include "nvlab/guest_timer_calibration.h"

#include <time.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "nvlab/guest_image.h"

namespace nvlab {
namespace {

// HostTscIsConstant: the host kernel's flags for a TSC that ticks at one rate in every P- and
// C-state.
bool HostTscIsConstant() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    bool constant = false, nonstop = false;
    for (std::string w; words >> w;) {
      constant = constant || w == "constant_tsc";
      nonstop = nonstop || w == "nonstop_tsc";
    }
    return constant && nonstop;
  }
  return false;
}

#if defined(__x86_64__)
// TscAndNanoseconds reads the TSC and CLOCK_MONOTONIC_RAW as one pair: the TSC is read on both
// sides of the clock, and of a few tries the tightest pair is kept (a preempted one is not).
void TscAndNanoseconds(uint64_t* tsc, uint64_t* ns) {
  uint64_t best_gap = UINT64_MAX;
  for (int i = 0; i < 5; ++i) {
    timespec t{};
    const uint64_t before = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &t);
    const uint64_t after = __rdtsc();
    if (after - before < best_gap) {
      best_gap = after - before;
      *tsc = before + (after - before) / 2;
      *ns = static_cast<uint64_t>(t.tv_sec) * 1000000000ULL + static_cast<uint64_t>(t.tv_nsec);
    }
  }
}
#endif

}  // namespace

uint64_t HostTscHertz() {
#if defined(__x86_64__)
  if (!HostTscIsConstant()) return 0;
  // Three 10 ms windows; the median is robust against one disturbed window.
  std::vector<uint64_t> rates;
  for (int i = 0; i < 3; ++i) {
    uint64_t tsc0 = 0, ns0 = 0, tsc1 = 0, ns1 = 0;
    TscAndNanoseconds(&tsc0, &ns0);
    const timespec pause{0, 10000000};
    nanosleep(&pause, nullptr);
    TscAndNanoseconds(&tsc1, &ns1);
    if (ns1 <= ns0 || tsc1 <= tsc0) return 0;
    rates.push_back(static_cast<uint64_t>(static_cast<long double>(tsc1 - tsc0) * 1e9L /
                                          static_cast<long double>(ns1 - ns0)));
  }
  std::sort(rates.begin(), rates.end());
  return rates[1];
#else
  return 0;
#endif
}

GuestTimerCalibration TcgTimerCalibration(bool deterministic) {
  GuestTimerCalibration c;
  if (deterministic) return c;
  c.loops_per_jiffy = HostTscHertz() / kGuestKernelHz;
  return c;
}

std::string KernelParameters(const GuestTimerCalibration& calibration) {
  if (calibration.loops_per_jiffy == 0) return "";
  return "lpj=" + std::to_string(calibration.loops_per_jiffy);
}

}  // namespace nvlab
