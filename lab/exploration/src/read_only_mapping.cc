// read_only_mapping.cc -- ReadOnlyMapping.

#include "nvlab/exploration/read_only_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace nvlab {

ReadOnlyMapping::~ReadOnlyMapping() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

ReadOnlyMapping::ReadOnlyMapping(ReadOnlyMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

ReadOnlyMapping& ReadOnlyMapping::operator=(ReadOnlyMapping&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Status ReadOnlyMapping::Open(const std::filesystem::path& path, uint64_t size,
                             ReadOnlyMapping* out) {
  *out = ReadOnlyMapping();
  if (size == 0) return Status::Ok();
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoErrorFromErrno("open " + path.string(), errno);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidArgument(path.string() + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) < size) {
    close(fd);
    return Status::InvalidArgument(path.string() + " holds " + std::to_string(st.st_size) +
                                   " bytes, fewer than the " + std::to_string(size) + " expected");
  }
  void* data = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int error = errno;
  close(fd);
  if (data == MAP_FAILED) return Status::IoErrorFromErrno("mmap " + path.string(), error);
  out->data_ = static_cast<const uint8_t*>(data);
  out->size_ = size;
  return Status::Ok();
}

}  // namespace nvlab
