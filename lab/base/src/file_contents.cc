// file_contents.cc -- ReadFileContents, WriteFileContents, WriteFileAtomically.

#include "nvlab/file_contents.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace nvlab {

Status ReadFileContents(const std::filesystem::path& path, std::string* contents) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path.string() + " does not exist");
    return Status::IoErrorFromErrno("cannot open " + path.string(), err);
  }
  contents->clear();
  struct stat info {};
  if (fstat(fd, &info) == 0 && info.st_size > 0) {
    contents->reserve(static_cast<std::size_t>(info.st_size));
  }
  char buffer[1 << 16];
  while (true) {
    ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Status::IoErrorFromErrno("cannot read " + path.string(), err);
    }
    contents->append(buffer, static_cast<std::size_t>(got));
  }
  close(fd);
  return Status::Ok();
}

Status WriteFileContents(const std::filesystem::path& path, std::string_view contents,
                         bool executable) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0755 : 0644);
  if (fd < 0) return Status::IoErrorFromErrno("cannot create " + path.string(), errno);
  std::size_t done = 0;
  while (done < contents.size()) {
    ssize_t wrote = write(fd, contents.data() + done, contents.size() - done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Status::IoErrorFromErrno("cannot write " + path.string(), err);
    }
    done += static_cast<std::size_t>(wrote);
  }
  if (close(fd) != 0) return Status::IoErrorFromErrno("cannot write " + path.string(), errno);
  return Status::Ok();
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents) {
  std::filesystem::path temp = path;
  temp += ".tmp-" + std::to_string(getpid());
  NVLAB_RETURN_IF_ERROR(WriteFileContents(temp, contents));
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    (void)std::remove(temp.c_str());  // best effort: the rename's error is the one to report
    return Status::IoErrorFromErrno("cannot rename " + temp.string(), err);
  }
  return Status::Ok();
}

}  // namespace nvlab
