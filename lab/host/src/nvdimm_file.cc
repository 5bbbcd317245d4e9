// nvdimm_file.cc -- PrepareNvdimmFile, CheckNvdimmFile, NvdimmFileLocks.

#include "nvlab/nvdimm_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <string>

#include "nvlab/machine.h"

namespace nvlab {
namespace {

// CheckExisting checks a file that exists: regular, exactly `size` bytes, readable and writable.
Status CheckExisting(const std::filesystem::path& path, const struct stat& st, uint64_t size) {
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(path.string() + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) != size) {
    return Status::InvalidArgument(path.string() + " holds " + std::to_string(st.st_size) +
                                   " bytes but the machine's NVDIMM is " + std::to_string(size) +
                                   " bytes (" + FormatSize(size) + ")");
  }
  if (access(path.c_str(), R_OK | W_OK) != 0) {
    return Status::IoErrorFromErrno(path.string(), errno);
  }
  return Status::Ok();
}

}  // namespace

Status CheckNvdimmFile(const std::filesystem::path& path, uint64_t size, bool* exists) {
  *exists = false;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::IoErrorFromErrno(path.string(), errno);
  }
  *exists = true;
  return CheckExisting(path, st, size);
}

Status PrepareNvdimmFile(const std::filesystem::path& path, uint64_t size, bool* created) {
  *created = false;
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return Status::IoErrorFromErrno(path.string(), errno);
    return CheckExisting(path, st, size);
  }
  if (fd < 0) return Status::IoErrorFromErrno("cannot create NVDIMM file " + path.string(), errno);
  *created = true;
  int err = posix_fallocate(fd, 0, static_cast<off_t>(size));
  if (err == EOPNOTSUPP || err == EINVAL) err = ftruncate(fd, static_cast<off_t>(size)) ? errno : 0;
  close(fd);
  if (err != 0) {
    unlink(path.c_str());  // ours, just made, and empty: nothing of the user's is lost
    *created = false;
    return Status::IoErrorFromErrno(
        "cannot reserve " + FormatSize(size) + " for NVDIMM file " + path.string(), err);
  }
  return Status::Ok();
}

Status NvdimmStartIsBlank(const std::filesystem::path& path, bool* blank) {
  *blank = false;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoErrorFromErrno("open NVDIMM file " + path.string(), errno);
  std::array<unsigned char, kNvdimmClaimBytes> bytes{};
  const ssize_t n = pread(fd, bytes.data(), bytes.size(), 0);
  const int read_errno = errno;
  close(fd);
  if (n < 0) return Status::IoErrorFromErrno("read NVDIMM file " + path.string(), read_errno);
  if (static_cast<size_t>(n) != bytes.size()) {
    return Status::IoError("NVDIMM file " + path.string() + " is shorter than " +
                           std::to_string(bytes.size()) + " bytes");
  }
  *blank = std::all_of(bytes.begin(), bytes.end(), [](unsigned char b) { return b == 0; });
  return Status::Ok();
}

Status NvdimmFileLocks::CheckDistinct(const std::vector<std::filesystem::path>& files) {
  std::map<std::pair<dev_t, ino_t>, std::filesystem::path> existing;
  std::map<std::filesystem::path, std::filesystem::path> missing;
  for (const std::filesystem::path& file : files) {
    if (file.empty()) continue;
    const std::filesystem::path* earlier = nullptr;
    struct stat st {};
    if (stat(file.c_str(), &st) == 0) {
      auto [it, added] = existing.emplace(std::make_pair(st.st_dev, st.st_ino), file);
      if (!added) earlier = &it->second;
    } else {
      std::error_code ec;
      const std::filesystem::path canonical = std::filesystem::weakly_canonical(file, ec);
      auto [it, added] = missing.emplace(ec ? file.lexically_normal() : canonical, file);
      if (!added) earlier = &it->second;
    }
    if (earlier != nullptr) {
      return Status::InvalidArgument("--nvdimm-image names one file twice (" + earlier->string() +
                                     " and " + file.string() +
                                     "): each NVDIMM needs a file of its own");
    }
  }
  return Status::Ok();
}

Status NvdimmFileLocks::Lock(const std::filesystem::path& path) {
  auto lock = std::make_unique<FileLock>();
  bool acquired = false;
  NVLAB_RETURN_IF_ERROR(
      lock->TryAcquire(path, FileLock::Mode::kExclusive, /*create=*/false, &acquired));
  struct stat st {};
  if (acquired && fstat(lock->fd(), &st) != 0) {
    return Status::IoErrorFromErrno("fstat " + path.string(), errno);
  }
  for (const Held& h : held_) {
    // Checked before the lock's own answer: this process's first lock is what refused it.
    struct stat other {};
    const bool same = acquired ? (h.dev == st.st_dev && h.ino == st.st_ino)
                               : (stat(path.c_str(), &other) == 0 && h.dev == other.st_dev &&
                                  h.ino == other.st_ino);
    if (same) {
      return Status::InvalidArgument("--nvdimm-image names one file twice (" + h.path.string() +
                                     " and " + path.string() +
                                     "): each NVDIMM needs a file of its own");
    }
  }
  if (!acquired) {
    return Status::FailedPrecondition(
        "the NVDIMM file " + path.string() +
        " is in use by another nvlab (it holds the file's lock); nothing was changed");
  }
  held_.push_back(Held{st.st_dev, st.st_ino, path, std::move(lock)});
  return Status::Ok();
}

}  // namespace nvlab
