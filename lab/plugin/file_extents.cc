// file_extents.cc -- DataExtents, CopyDataExtents.
#include "file_extents.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace nvlab::plugin {

model::ByteRanges DataExtents(int fd, uint64_t size) {
  model::ByteRanges extents;
  off_t at = 0;
  while (static_cast<uint64_t>(at) < size) {
    off_t data = lseek(fd, at, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // Only holes from here on.
      return {{0, size}};
    }
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return {{0, size}};
    uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (static_cast<uint64_t>(data) >= end) break;
    extents.emplace_back(static_cast<uint64_t>(data), end);
    at = hole;
  }
  return extents;
}

bool CopyDataExtents(int fd, uint64_t size, const std::string& to, std::string* error) {
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    *error = "cannot create " + to + ": " + std::strerror(errno);
    return false;
  }
  auto fail = [&](const char* what) {
    *error = std::string(what) + " " + to + ": " + std::strerror(errno != 0 ? errno : EIO);
    close(out);
    unlink(to.c_str());
    return false;
  };
  if (ftruncate(out, static_cast<off_t>(size)) != 0) return fail("cannot size");
  constexpr size_t kChunk = size_t{1} << 20;
  std::vector<char> buffer(kChunk);
  for (auto [first, end] : DataExtents(fd, size)) {
    for (uint64_t at = first; at < end;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, end - at));
      ssize_t n = pread(fd, buffer.data(), want, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0) errno = EIO;  // The file is shorter than the NVDIMM: not ours to copy.
        return fail("cannot copy the NVDIMM file into");
      }
      for (ssize_t done = 0; done < n;) {
        ssize_t w = pwrite(out, buffer.data() + done, static_cast<size_t>(n - done),
                           static_cast<off_t>(at) + done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail("cannot write");
        done += w;
      }
      at += static_cast<uint64_t>(n);
    }
  }
  if (fsync(out) != 0) return fail("cannot sync");
  if (close(out) != 0) {
    *error = "cannot close " + to + ": " + std::strerror(errno);
    unlink(to.c_str());
    return false;
  }
  return true;
}

}  // namespace nvlab::plugin
