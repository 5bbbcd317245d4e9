// program_identity.cc -- ResolveProgram, FileIdentity.

#include "nvlab/program_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace nvlab {
namespace fs = std::filesystem;

fs::path ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return program;
}

Status FileIdentity(const fs::path& path, bool with_inode, std::string* identity) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return Status::NotFound(path.string() + " is missing");
  *identity = path.string() + " size=" + std::to_string(st.st_size) +
              " mtime=" + std::to_string(st.st_mtim.tv_sec) + "." +
              std::to_string(st.st_mtim.tv_nsec);
  if (with_inode) *identity += " inode=" + std::to_string(st.st_ino);
  return Status::Ok();
}

}  // namespace nvlab
