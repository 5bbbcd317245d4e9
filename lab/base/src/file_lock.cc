// file_lock.cc -- FileLock: flock(2) on a lock file.

#include "nvlab/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace nvlab {

FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);
}

Status FileLock::Acquire(const std::filesystem::path& path, Mode mode,
                         const std::function<void()>& on_wait) {
  if (fd_ >= 0) return Status::FailedPrecondition("lock already held");
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::IoErrorFromErrno("cannot open " + path.string(), errno);
  const int operation = mode == Mode::kShared ? LOCK_SH : LOCK_EX;
  if (flock(fd_, operation | LOCK_NB) == 0) return Status::Ok();
  if (on_wait) on_wait();
  while (flock(fd_, operation) != 0) {
    if (errno != EINTR) return Status::IoErrorFromErrno("flock " + path.string(), errno);
  }
  return Status::Ok();
}

}  // namespace nvlab
