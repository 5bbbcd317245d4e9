// untrusted_text.cc -- EscapeUntrusted.

#include "nvlab/untrusted_text.h"

#include "nvlab/hex.h"

namespace nvlab {

std::string EscapeUntrusted(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x" + HexDigits(std::string_view(&c, 1));
    }
  }
  return out;
}

}  // namespace nvlab
