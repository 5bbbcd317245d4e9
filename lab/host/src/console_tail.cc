// console_tail.cc -- ReadConsoleTail.

#include "nvlab/console_tail.h"

#include <fstream>
#include <iterator>

#include "nvlab/untrusted_text.h"

namespace nvlab {

std::string ReadConsoleTail(const std::filesystem::path& console, int lines) {
  std::ifstream in(console, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > 65536 ? size - 65536 : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text = EscapeUntrustedLines(text);
  if (text.empty()) return text;  // A guest that died before printing anything.
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

}  // namespace nvlab
