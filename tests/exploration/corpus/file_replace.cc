// file_replace.cc -- the kernel file system case of the crash corpus (tests/exploration): the
// classic atomic replace of a file on ext4 mounted -o dax on an fsdax NVDIMM, run in a guest by
// `nvlab explore` (docs/design/exploration.md, "Corpus").
//
//   file-replace VARIANT write|check DIR
//
// write replaces two files, `a` then `b`, each with versions 1, 2, 3 in turn (a1 b1 a2 b2 a3
// b3), every replace completing before the next starts:
//
//   correct        write the new content to NAME.tmp, fsync it, rename it over NAME, fsync DIR
//   mmap-no-msync  the content stored through a DAX mmap of NAME.tmp and never msync'ed or
//                  fsync'ed (plain stores left in the CPU cache), then the rename and the
//                  directory's fsync: the renamed file may hold stale data after a power cut
//
// check reads what a power cut left (the file system freshly mounted, its journal replayed) and
// exits 0 when it holds what the pattern guarantees, 1 otherwise (printing why), 2 on a usage
// or I/O error. The guarantee, from the replaces' order:
//   - a file that exists holds exactly one complete version: the right size, every word of
//     one version (never empty, never torn, never a mix of two versions);
//   - a missing file counts as version 0 (its first rename was not committed);
//   - each replace was durable (its directory fsync returned) before the next began, so b's
//     version never exceeds a's and a's never exceeds b's by more than one.
// NAME.tmp files are leftovers of an interrupted replace and are ignored.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Two 4 KiB blocks' worth, not a multiple of a block: a torn write or a stale block shows.
constexpr size_t kFileBytes = 6000;
constexpr size_t kWords = kFileBytes / 8;
constexpr uint64_t kVersions = 3;
constexpr const char* kFiles[] = {"a", "b"};

[[noreturn]] void Die(const std::string& what) {
  (void)std::fprintf(stderr, "file-replace: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

// Word i of file `file` (0: a, 1: b) at `version`: says which file, version and word it is.
uint64_t Word(uint64_t file, uint64_t version, uint64_t i) {
  return (uint64_t{0xF5} << 56) | (file << 48) | (version << 40) | i;
}

std::vector<uint64_t> Content(uint64_t file, uint64_t version) {
  std::vector<uint64_t> words(kWords);
  for (size_t i = 0; i < kWords; ++i) words[i] = Word(file, version, i);
  return words;
}

void FsyncPath(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) Die("open " + path);
  if (fsync(fd) != 0) Die("fsync " + path);
  close(fd);
}

void WriteAll(int fd, const void* data, size_t size, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die("write " + path);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void Replace(const std::string& dir, uint64_t file, uint64_t version, std::string_view variant) {
  const std::string target = dir + "/" + kFiles[file];
  const std::string tmp = target + ".tmp";
  const std::vector<uint64_t> words = Content(file, version);
  const int fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("create " + tmp);
  if (variant == "mmap-no-msync") {
    if (ftruncate(fd, kFileBytes) != 0) Die("size " + tmp);
    void* map = mmap(nullptr, kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) Die("mmap " + tmp);
    // Word by word, so the stores are this function's in any build (not a libc memcpy's).
    auto* out = static_cast<volatile uint64_t*>(map);
    for (size_t i = 0; i < kWords; ++i) out[i] = words[i];
    // The bug: no msync(MS_SYNC) and no fsync before the rename.
    munmap(map, kFileBytes);
  } else {
    WriteAll(fd, words.data(), kFileBytes, tmp);
    if (fsync(fd) != 0) Die("fsync " + tmp);
  }
  close(fd);
  if (rename(tmp.c_str(), target.c_str()) != 0) Die("rename " + tmp);
  FsyncPath(dir, O_RDONLY | O_DIRECTORY);
}

// Version reads file `file`: 0 when it does not exist, its version when it holds one complete
// version; otherwise prints why and returns -1.
int64_t Version(const std::string& dir, uint64_t file) {
  const std::string path = dir + "/" + kFiles[file];
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return 0;
  if (fd < 0) Die("open " + path);
  struct stat st {};
  if (fstat(fd, &st) != 0) Die("stat " + path);
  if (st.st_size != static_cast<off_t>(kFileBytes)) {
    std::printf("inconsistent: %s holds %lld bytes, not %zu\n", kFiles[file],
                static_cast<long long>(st.st_size), kFileBytes);
    close(fd);
    return -1;
  }
  std::vector<uint64_t> words(kWords);
  auto* p = reinterpret_cast<uint8_t*>(words.data());
  size_t done = 0;
  while (done < kFileBytes) {
    const ssize_t n = read(fd, p + done, kFileBytes - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die("read " + path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  const uint64_t version = (words[0] >> 40) & 0xFF;
  if (version < 1 || version > kVersions) {
    std::printf("inconsistent: %s word 0 is %#llx, of no version\n", kFiles[file],
                static_cast<unsigned long long>(words[0]));
    return -1;
  }
  for (size_t i = 0; i < kWords; ++i) {
    if (words[i] != Word(file, version, i)) {
      std::printf("inconsistent: %s word %zu is %#llx, not %#llx (version %llu)\n", kFiles[file], i,
                  static_cast<unsigned long long>(words[i]),
                  static_cast<unsigned long long>(Word(file, version, i)),
                  static_cast<unsigned long long>(version));
      return -1;
    }
  }
  return static_cast<int64_t>(version);
}

int Check(const std::string& dir) {
  const int64_t a = Version(dir, 0);
  const int64_t b = Version(dir, 1);
  if (a < 0 || b < 0) return 1;
  if (b > a || a > b + 1) {
    std::printf("inconsistent: a at version %lld, b at %lld (replaced a1 b1 a2 b2 a3 b3)\n",
                static_cast<long long>(a), static_cast<long long>(b));
    return 1;
  }
  std::printf("a at version %lld, b at %lld\n", static_cast<long long>(a),
              static_cast<long long>(b));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    (void)std::fprintf(stderr, "usage: file-replace VARIANT write|check DIR\n");
    return 2;
  }
  const std::string_view variant = argv[1];
  const std::string_view mode = argv[2];
  const std::string dir = argv[3];
  if (variant != "correct" && variant != "mmap-no-msync") {
    (void)std::fprintf(stderr, "file-replace: unknown variant\n");
    return 2;
  }
  if (mode == "check") return Check(dir);
  if (mode != "write") {
    (void)std::fprintf(stderr, "file-replace: mode must be write or check\n");
    return 2;
  }
  for (uint64_t version = 1; version <= kVersions; ++version) {
    for (uint64_t file = 0; file < 2; ++file) Replace(dir, file, version, variant);
  }
  return 0;
}
