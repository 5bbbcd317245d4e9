// nvdimm_file.cc -- PrepareNvdimmFile, CheckNvdimmFile.

#include "nvlab/nvdimm_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

}  // namespace nvlab
