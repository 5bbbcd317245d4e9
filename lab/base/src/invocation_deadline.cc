// invocation_deadline.cc -- SetInvocationDeadline, InvocationDeadline, InternalWaitExpired.

#include "nvlab/invocation_deadline.h"

#include <atomic>
#include <cstdint>

namespace nvlab {
namespace {

// Process-wide by nature (nvlab/invocation_deadline.h says why): the steady clock's tick count,
// int64 max meaning "never".
std::atomic<int64_t> g_invocation_deadline{
    Deadline::Clock::time_point::max().time_since_epoch().count()};
static_assert(std::atomic<int64_t>::is_always_lock_free);

}  // namespace

void SetInvocationDeadline(Deadline deadline) {
  g_invocation_deadline.store(deadline.at().time_since_epoch().count(), std::memory_order_relaxed);
}

Deadline InvocationDeadline() {
  const int64_t ticks = g_invocation_deadline.load(std::memory_order_relaxed);
  return Deadline::At(Deadline::Clock::time_point(Deadline::Clock::duration(ticks)));
}

Status InternalWaitExpired(const Status& status) {
  if (status.code() != Status::Code::kTimeout || InvocationDeadline().expired()) return status;
  return Status::IoError("a lab wait expired (not --timeout): " + status.message());
}

}  // namespace nvlab
