// interruption.cc -- InstallInterruptionHandlers, InterruptionSignal.

#include "nvlab/interruption.h"

#include <signal.h>

#include <atomic>

namespace nvlab {
namespace {

// Process-wide by nature: written only by the signal handler, read by the wait loops.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

void OnSignal(int sig) {
  g_signal.store(sig, std::memory_order_relaxed);
}

}  // namespace

void InstallInterruptionHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  // One request to stop is recorded and acted on (QEMU and host tools killed, files removed); the
  // handler then returns to the default, so that a second Ctrl-C ends nvlab at once, whatever
  // it was waiting for.
  action.sa_flags = SA_RESETHAND;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
}

int InterruptionSignal() {
  return g_signal.load(std::memory_order_relaxed);
}

}  // namespace nvlab
