// File: nvlab/explore/state_count.h
//
// StateCount is a number of crash states that saturates instead of wrapping: the states of a
// crash point are a product over its undetermined lines, which passes 2^64 easily (64 lines of
// 2 candidates each). A saturated count prints as ">= 18446744073709551615".
//
// Thread-safety: a plain value.

#ifndef NVLAB_EXPLORE_STATE_COUNT_H_
#define NVLAB_EXPLORE_STATE_COUNT_H_

#include <cstdint>
#include <limits>
#include <string>

namespace nvlab::explore {

class StateCount {
 public:
  static constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

  constexpr StateCount() = default;
  constexpr explicit StateCount(uint64_t value) : value_(value), saturated_(value == kMax) {}
  static constexpr StateCount Saturated() { return StateCount(kMax); }

  constexpr uint64_t value() const { return value_; }  // kMax when saturated.
  constexpr bool saturated() const { return saturated_; }

  constexpr StateCount operator+(StateCount other) const {
    if (saturated_ || other.saturated_ || value_ > kMax - other.value_) return Saturated();
    return StateCount(value_ + other.value_);
  }
  constexpr StateCount operator*(StateCount other) const {
    if (value_ == 0 || other.value_ == 0) return StateCount(0);
    if (saturated_ || other.saturated_ || value_ > kMax / other.value_) return Saturated();
    return StateCount(value_ * other.value_);
  }
  // operator- is exact unless this is saturated (then it stays saturated) or other is larger
  // (then 0).
  constexpr StateCount operator-(StateCount other) const {
    if (saturated_) return Saturated();
    if (other.value_ >= value_) return StateCount(0);
    return StateCount(value_ - other.value_);
  }
  StateCount& operator+=(StateCount other) { return *this = *this + other; }
  constexpr bool operator==(const StateCount&) const = default;

  // ToString: the decimal value, or ">= 18446744073709551615" when saturated.
  std::string ToString() const {
    return saturated_ ? ">= " + std::to_string(kMax) : std::to_string(value_);
  }

 private:
  uint64_t value_ = 0;
  bool saturated_ = false;
};

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_STATE_COUNT_H_
