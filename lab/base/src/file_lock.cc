// file_lock.cc -- FileLock: flock(2) on a lock file, a folder or a user's file.

#include "nvlab/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace nvlab {
namespace {

int Operation(FileLock::Mode mode) {
  return mode == FileLock::Mode::kShared ? LOCK_SH : LOCK_EX;
}

}  // namespace

FileLock::~FileLock() {
  Release();
}

void FileLock::Release() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status FileLock::Open(const std::filesystem::path& path, bool create) {
  if (fd_ >= 0) return Status::FailedPrecondition("lock already held");
  // Read-only is enough for flock, and opens folders too.
  fd_ = create ? open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)
               : open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd_ >= 0) return Status::Ok();
  const int err = errno;
  if (err == ENOENT) return Status::NotFound(path.string() + " does not exist");
  return Status::IoErrorFromErrno("cannot open " + path.string(), err);
}

Status FileLock::Wait(const std::filesystem::path& path, Mode mode,
                      const std::function<void()>& on_wait) {
  if (flock(fd_, Operation(mode) | LOCK_NB) == 0) return Status::Ok();
  if (on_wait) on_wait();
  while (flock(fd_, Operation(mode)) != 0) {
    if (errno != EINTR) {
      const int err = errno;
      Release();
      return Status::IoErrorFromErrno("flock " + path.string(), err);
    }
  }
  return Status::Ok();
}

Status FileLock::Acquire(const std::filesystem::path& path, Mode mode,
                         const std::function<void()>& on_wait) {
  NVLAB_RETURN_IF_ERROR(Open(path, true));
  return Wait(path, mode, on_wait);
}

Status FileLock::AcquireExisting(const std::filesystem::path& path, Mode mode,
                                 const std::function<void()>& on_wait) {
  NVLAB_RETURN_IF_ERROR(Open(path, false));
  return Wait(path, mode, on_wait);
}

Status FileLock::TryAcquire(const std::filesystem::path& path, Mode mode, bool create,
                            bool* acquired) {
  *acquired = false;
  NVLAB_RETURN_IF_ERROR(Open(path, create));
  if (flock(fd_, Operation(mode) | LOCK_NB) == 0) {
    *acquired = true;
    return Status::Ok();
  }
  const int err = errno;
  Release();
  if (err == EWOULDBLOCK) return Status::Ok();
  return Status::IoErrorFromErrno("flock " + path.string(), err);
}

}  // namespace nvlab
