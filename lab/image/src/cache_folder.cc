// cache_folder.cc -- cache folders: published durably, held while used, removed when unheld.

#include "nvlab/image/cache_folder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace nvlab::image {
namespace fs = std::filesystem;

Status SyncPath(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Status::IoErrorFromErrno("cannot open " + path.string(), errno);
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) return Status::IoErrorFromErrno("fsync " + path.string(), err);
  return Status::Ok();
}

Status SyncFolderTree(const fs::path& dir) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_regular_file(st) || fs::is_directory(st)) {
      NVLAB_RETURN_IF_ERROR(SyncPath(it->path()));
    }
  }
  if (ec) return Status::IoError("cannot list " + dir.string() + ": " + ec.message());
  return SyncPath(dir);
}

Status PublishCacheFolder(const fs::path& temp, const fs::path& final_dir, bool* published) {
  if (published != nullptr) *published = false;
  NVLAB_RETURN_IF_ERROR(SyncFolderTree(temp));
  if (std::rename(temp.c_str(), final_dir.c_str()) != 0) {
    const int err = errno;
    std::error_code ignored;
    // Losing a race to an identical folder is fine: folders are named by their content's key.
    if ((err == ENOTEMPTY || err == EEXIST) && fs::exists(final_dir, ignored)) {
      fs::remove_all(temp, ignored);
      return Status::Ok();
    }
    return Status::IoErrorFromErrno("cannot rename " + temp.string() + " to " + final_dir.string(),
                                    err);
  }
  if (published != nullptr) *published = true;
  return SyncPath(final_dir.parent_path());
}

Status HoldCacheFolder(const fs::path& dir, std::shared_ptr<FileLock>* hold) {
  auto lock = std::make_shared<FileLock>();
  NVLAB_RETURN_IF_ERROR(lock->AcquireExisting(dir, FileLock::Mode::kShared));
  struct stat locked {};
  struct stat now {};
  if (fstat(lock->fd(), &locked) != 0 || stat(dir.c_str(), &now) != 0 ||
      locked.st_dev != now.st_dev || locked.st_ino != now.st_ino || locked.st_nlink == 0) {
    return Status::NotFound(dir.string() + " was removed while this nvlab waited for it");
  }
  *hold = std::move(lock);
  return Status::Ok();
}

Status TryRemoveCacheFolder(const fs::path& dir, bool* removed) {
  *removed = false;
  FileLock lock;
  bool acquired = false;
  const Status s = lock.TryAcquire(dir, FileLock::Mode::kExclusive, /*create=*/false, &acquired);
  if (s.code() == Status::Code::kNotFound) {
    *removed = true;
    return Status::Ok();
  }
  NVLAB_RETURN_IF_ERROR(s);
  if (!acquired) return Status::Ok();
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Status::IoError("cannot remove " + dir.string() + ": " + ec.message());
  *removed = true;
  return Status::Ok();
}

}  // namespace nvlab::image
