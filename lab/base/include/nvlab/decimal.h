// File: nvlab/decimal.h
//
// ParseDecimal reads the whole of a text as a decimal number in [min, max]: digits only, no
// sign, no 0x, no spaces. Command-line values and campaign files read their counts with it, so
// that "12x", "+3" and "" are refused the same way everywhere.
//
// Thread-safety: a pure function.

#ifndef NVLAB_DECIMAL_H_
#define NVLAB_DECIMAL_H_

#include <charconv>
#include <string_view>
#include <system_error>

namespace nvlab {

template <typename T>
bool ParseDecimal(std::string_view text, T min, T max, T* out) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < min ||
      value > max) {
    return false;
  }
  *out = value;
  return true;
}

}  // namespace nvlab

#endif  // NVLAB_DECIMAL_H_
