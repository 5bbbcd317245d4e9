// hex.cc -- FormatHex, HexDigits, ParseHexDigits.

#include "nvlab/hex.h"

#include <charconv>

namespace nvlab {

std::string FormatHex(uint64_t value) {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, 16);
  (void)ec;  // 16 hex digits always fit
  return "0x" + std::string(buf, end);
}

std::string HexDigits(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

bool ParseHexDigits(std::string_view digits, uint64_t* value) {
  if (digits.empty() || digits.size() > 16) return false;
  uint64_t parsed = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed, 16);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  *value = parsed;
  return true;
}

}  // namespace nvlab
