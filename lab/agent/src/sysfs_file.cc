// sysfs_file.cc -- small sysfs files, read and written whole.

#include "nvlab/agent/sysfs_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace nvlab::agent {
namespace {

// Shown is a written value as an error message shows it: a newline as \n.
std::string Shown(std::string_view value) {
  std::string text;
  for (const char c : value) text += c == '\n' ? std::string("\\n") : std::string(1, c);
  return text;
}

}  // namespace

Status ReadSysfsFile(const std::string& path, std::string* text) {
  text->clear();
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoErrorFromErrno("open " + path, errno);
  char buf[4096];
  Status status;
  while (text->size() < 65536) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Status::IoErrorFromErrno("read " + path, errno);
      break;
    }
    if (n == 0) break;
    text->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  while (!text->empty() && text->back() == '\n') text->pop_back();
  return status;
}

Status WriteSysfsFile(const std::string& path, std::string_view value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoErrorFromErrno("open " + path, errno);
  ssize_t n = 0;
  do {
    n = write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  const int write_errno = errno;
  close(fd);
  if (n < 0) {
    return Status::IoErrorFromErrno("write \"" + Shown(value) + "\" to " + path, write_errno);
  }
  if (static_cast<size_t>(n) != value.size()) {
    return Status::IoError("short write of \"" + Shown(value) + "\" to " + path);
  }
  return Status::Ok();
}

std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* entry = readdir(d)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace nvlab::agent
