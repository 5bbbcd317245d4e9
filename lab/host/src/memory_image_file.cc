// memory_image_file.cc -- CopyMemoryImage, MemoryImageChecksum.

#include "nvlab/memory_image_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace nvlab {
namespace {

constexpr size_t kBlock = 4096;
constexpr size_t kChunk = 1 << 20;  // bytes read per call

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;

uint64_t Rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

// BlockHash mixes one block (kBlock bytes) and its offset: four independent lanes, so the loop
// runs at memory speed.
uint64_t BlockHash(const unsigned char* block, uint64_t offset) {
  uint64_t lane[4] = {offset ^ kPrime1, offset + kPrime2, Rotl(offset, 17), ~offset};
  for (size_t i = 0; i < kBlock; i += 32) {
    for (size_t l = 0; l < 4; ++l) {
      uint64_t word = 0;
      std::memcpy(&word, block + i + 8 * l, 8);
      lane[l] = Rotl(lane[l] + word * kPrime2, 31) * kPrime1;
    }
  }
  uint64_t h = Rotl(lane[0], 1) + Rotl(lane[1], 7) + Rotl(lane[2], 12) + Rotl(lane[3], 18);
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  return h;
}

bool AllZero(const unsigned char* block) {
  uint64_t any = 0;
  for (size_t i = 0; i < kBlock; i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, block + i, 8);
    any |= word;
  }
  return any == 0;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// ScanImage reads every data extent of `in` (size bytes) and calls on_data(offset, bytes, length)
// for each run of non-zero blocks; the checksum is the sum of the block hashes (order-free, so
// extents may be visited in any order) mixed with the size.
template <typename OnData>
Status ScanImage(int in, uint64_t size, const std::string& name, uint64_t* checksum,
                 OnData on_data) {
  std::vector<unsigned char> buffer(kChunk);
  uint64_t sum = size * kPrime1;
  uint64_t offset = 0;
  while (offset < size) {
    off_t data = lseek(in, static_cast<off_t>(offset), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;          // only a hole is left
      data = static_cast<off_t>(offset);  // no SEEK_DATA here: read everything
    }
    offset = static_cast<uint64_t>(data) & ~(kBlock - 1);
    off_t hole = lseek(in, static_cast<off_t>(offset), SEEK_HOLE);
    const uint64_t end = hole < 0 ? size : std::min<uint64_t>(size, static_cast<uint64_t>(hole));
    while (offset < end) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, end - offset));
      const ssize_t got = pread(in, buffer.data(), want, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        return got == 0 ? Status::IoError(name + " ends before its size (truncated while read)")
                        : Status::IoErrorFromErrno("cannot read " + name, errno);
      }
      // A short read that is not a block multiple is padded: the file ends inside the block.
      const size_t n = static_cast<size_t>(got);
      const size_t blocks = (n + kBlock - 1) / kBlock;
      if (n % kBlock != 0) std::memset(buffer.data() + n, 0, blocks * kBlock - n);
      // Consecutive non-zero blocks go to on_data as one run (one write for the copy).
      size_t run_start = 0;
      size_t run_blocks = 0;
      for (size_t b = 0; b <= blocks; ++b) {
        const bool nonzero = b < blocks && !AllZero(buffer.data() + b * kBlock);
        if (nonzero) {
          sum += BlockHash(buffer.data() + b * kBlock, offset + b * kBlock);
          if (run_blocks++ == 0) run_start = b;
          continue;
        }
        if (run_blocks == 0) continue;
        const uint64_t at = offset + run_start * kBlock;
        NVLAB_RETURN_IF_ERROR(on_data(at, buffer.data() + run_start * kBlock,
                                      std::min<uint64_t>(run_blocks * kBlock, size - at)));
        run_blocks = 0;
      }
      offset += n;
    }
  }
  *checksum = sum ^ (sum >> 31);
  return Status::Ok();
}

// CopyInto writes the non-zero blocks of `in` (size bytes) into `out`, which holds zeros there.
Status CopyInto(int in, uint64_t size, const std::filesystem::path& from, int out,
                const std::filesystem::path& to, uint64_t* checksum) {
  return ScanImage(
      in, size, from.string(), checksum, [&](uint64_t at, const unsigned char* block, uint64_t n) {
        size_t done = 0;
        while (done < n) {
          const ssize_t w = pwrite(out, block + done, n - done, static_cast<off_t>(at + done));
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0)
            return Status::IoErrorFromErrno("cannot write " + to.string(), w < 0 ? errno : ENOSPC);
          done += static_cast<size_t>(w);
        }
        return Status::Ok();
      });
}

}  // namespace

Status CopyMemoryImage(const std::filesystem::path& from, const std::filesystem::path& to,
                       uint64_t* checksum) {
  Fd in(open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return Status::IoErrorFromErrno("cannot open " + from.string(), errno);
  struct stat st {};
  if (fstat(in.get(), &st) != 0) return Status::IoErrorFromErrno("stat " + from.string(), errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  Fd out(open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (out.get() < 0) return Status::IoErrorFromErrno("cannot create " + to.string(), errno);
  if (ftruncate(out.get(), static_cast<off_t>(size)) != 0) {
    return Status::IoErrorFromErrno("cannot size " + to.string(), errno);
  }
  return CopyInto(in.get(), size, from, out.get(), to, checksum);
}

Status CopyMemoryImageIntoReserved(const std::filesystem::path& from,
                                   const std::filesystem::path& to, uint64_t* checksum) {
  Fd in(open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return Status::IoErrorFromErrno("cannot open " + from.string(), errno);
  struct stat st {};
  if (fstat(in.get(), &st) != 0) return Status::IoErrorFromErrno("stat " + from.string(), errno);
  Fd out(open(to.c_str(), O_WRONLY | O_CLOEXEC));
  if (out.get() < 0) return Status::IoErrorFromErrno("cannot open " + to.string(), errno);
  struct stat to_st {};
  if (fstat(out.get(), &to_st) != 0) return Status::IoErrorFromErrno("stat " + to.string(), errno);
  if (to_st.st_size != st.st_size) {
    return Status::FailedPrecondition(from.string() + " holds " + std::to_string(st.st_size) +
                                      " bytes, the RAM file " + to.string() + " " +
                                      std::to_string(to_st.st_size));
  }
  return CopyInto(in.get(), static_cast<uint64_t>(st.st_size), from, out.get(), to, checksum);
}

Status MemoryImageChecksum(const std::filesystem::path& path, uint64_t* checksum) {
  Fd in(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return Status::IoErrorFromErrno("cannot open " + path.string(), errno);
  struct stat st {};
  if (fstat(in.get(), &st) != 0) return Status::IoErrorFromErrno("stat " + path.string(), errno);
  return ScanImage(in.get(), static_cast<uint64_t>(st.st_size), path.string(), checksum,
                   [](uint64_t, const unsigned char*, uint64_t) { return Status::Ok(); });
}

}  // namespace nvlab
