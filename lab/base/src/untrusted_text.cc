// untrusted_text.cc -- EscapeUntrusted, EscapeUntrustedLines.

#include "nvlab/untrusted_text.h"

#include "nvlab/hex.h"

namespace nvlab {

namespace {

std::string Escape(std::string_view bytes, bool keep_line_breaks) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    const auto byte = static_cast<unsigned char>(c);
    // A serial console ends its lines with "\r\n": shown as lines, that is one line break.
    if (keep_line_breaks && c == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') continue;
    if ((byte >= 0x20 && byte < 0x7f && c != '\\') ||
        (keep_line_breaks && (c == '\n' || c == '\t'))) {
      out.push_back(c);
    } else {
      out += "\\x" + HexDigits(std::string_view(&c, 1));
    }
  }
  return out;
}

}  // namespace

std::string EscapeUntrusted(std::string_view bytes) {
  return Escape(bytes, false);
}

std::string EscapeUntrustedLines(std::string_view text) {
  return Escape(text, true);
}

}  // namespace nvlab
