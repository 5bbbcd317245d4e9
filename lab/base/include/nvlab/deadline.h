// File: nvlab/deadline.h
//
// Deadline is a point on the steady clock by which a lab operation must finish. Calls that wait
// on QEMU or the guest take one, so a guest that hangs becomes a Timeout, never a hang of nvlab.
//
// Thread-safety: a value type.

#ifndef NVLAB_DEADLINE_H_
#define NVLAB_DEADLINE_H_

#include <algorithm>
#include <chrono>

namespace nvlab {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // In returns a deadline `d` from now.
  static Deadline In(std::chrono::milliseconds d) { return Deadline(Clock::now() + d); }
  // Never is a deadline that does not pass.
  static Deadline Never() { return Deadline(Clock::time_point::max()); }
  // At returns the deadline at `at`; at() gives it back (to store a deadline as a number).
  static Deadline At(Clock::time_point at) { return Deadline(at); }
  Clock::time_point at() const { return at_; }

  bool expired() const { return Clock::now() >= at_; }
  // RemainingMs is what is left, clamped to [0, cap] (for poll(2) timeouts).
  int RemainingMs(int cap = 1 << 30) const {
    if (at_ == Clock::time_point::max()) return cap;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now());
    return static_cast<int>(std::clamp<long long>(left.count(), 0, cap));
  }
  // Earlier returns whichever of the two passes first.
  Deadline Earlier(Deadline other) const { return at_ < other.at_ ? *this : other; }

 private:
  explicit Deadline(Clock::time_point at) : at_(at) {}
  Clock::time_point at_;
};

}  // namespace nvlab

#endif  // NVLAB_DEADLINE_H_
