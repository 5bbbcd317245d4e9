// file_text.h -- a whole file as a string for test assertions: nvlab::ReadFileContents, with a
// missing or unreadable file read as "" (the assertion that follows then says what it expected).

#ifndef NVLAB_TESTS_SUPPORT_FILE_TEXT_H_
#define NVLAB_TESTS_SUPPORT_FILE_TEXT_H_

#include <filesystem>
#include <string>

#include "nvlab/file_contents.h"

namespace nvlab::testing {

inline std::string FileText(const std::filesystem::path& path) {
  std::string text;
  if (!ReadFileContents(path, &text).ok()) text.clear();
  return text;
}

}  // namespace nvlab::testing

#endif  // NVLAB_TESTS_SUPPORT_FILE_TEXT_H_
