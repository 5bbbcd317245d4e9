// File: nvlab/agent/device_wait.h
//
// WaitFor polls for something the kernel makes asynchronously (a region after its driver
// loads, a device node after a probe), every 10 ms, for at most a limit. The guest has no udev
// to tell it when: polling is what ndctl and init scripts do too.
//
// Thread-safety: no state of its own.

#ifndef NVLAB_AGENT_DEVICE_WAIT_H_
#define NVLAB_AGENT_DEVICE_WAIT_H_

#include <time.h>

#include <string>

#include "nvlab/status.h"

namespace nvlab::agent {

// WaitFor calls ready() until it returns true (Ok) or `seconds` of CLOCK_MONOTONIC have passed
// (Timeout naming `what`). ready() is called at least once.
template <typename Ready>
Status WaitFor(Ready ready, const std::string& what, double seconds = 5.0) {
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (ready()) return Status::Ok();
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const double elapsed = static_cast<double>(now.tv_sec - start.tv_sec) +
                           static_cast<double>(now.tv_nsec - start.tv_nsec) / 1e9;
    if (elapsed >= seconds) {
      return Status::Timeout(what + " did not appear within " +
                             std::to_string(static_cast<int>(seconds)) + " s");
    }
    const timespec pause{0, 10'000'000};
    nanosleep(&pause, nullptr);
  }
}

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_DEVICE_WAIT_H_
