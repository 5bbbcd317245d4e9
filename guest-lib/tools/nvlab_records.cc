// nvlab_records.cc -- nvlab-records: writes records by each persistence pattern, and checks
// which survived (the lab's demo and test workload; formats in docs/formats/records.md).
//
//   nvlab-records write PATH [--count N] [--pattern P] [--cut]
//   nvlab-records check PATH [--count N] [--pattern P] [--json]
//
// PATH: a devdax character device (mapped whole at its alignment), a directory on a DAX file
// system (file PATH/nvlab-records.dat, mapped MAP_SHARED_VALIDATE|MAP_SYNC) or a regular file
// (mapped plainly and registered with NvRegisterNonVolatileRange: host tests). Record r of
// pattern p lives at offset 64 * (p_slot * N + r). Exit: 0 done (survival is data, not failure),
// 1 I/O error, 2 usage error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nvrtl/nvrtl.h"
#include "record_format.h"

namespace {

using nvlab_records::kPatterns;
using nvlab_records::kRecordSize;
using nvlab_records::Method;

constexpr int kExitIo = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string command;
  std::string path;
  unsigned long count = 1;
  int pattern = -1;  // -1: all patterns
  bool cut = false;
  bool json = false;
};

struct Mapping {
  unsigned char* base = nullptr;
  size_t size = 0;
  bool registered = false;
};

int Usage(const char* why) {
  (void)std::fprintf(stderr,
                     "nvlab-records: %s\n"
                     "usage: nvlab-records write PATH [--count N] [--pattern P] [--cut]\n"
                     "       nvlab-records check PATH [--count N] [--pattern P] [--json]\n"
                     "patterns:",
                     why);
  for (size_t i = 0; i < nvlab_records::kPatternCount; ++i) {
    (void)std::fprintf(stderr, " %s", kPatterns[i].name);
  }
  (void)std::fputc('\n', stderr);
  return kExitUsage;
}

bool ParseOptions(int argc, char** argv, Options* o, int* status) {
  if (argc < 3) {
    *status = Usage("missing command or PATH");
    return false;
  }
  o->command = argv[1];
  o->path = argv[2];
  if (o->command != "write" && o->command != "check") {
    *status = Usage(("unknown command '" + o->command + "'").c_str());
    return false;
  }
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc) {
      char* end = nullptr;
      o->count = std::strtoul(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || o->count == 0 || o->count > (1ul << 24)) {
        *status = Usage("--count wants a number from 1 to 16777216");
        return false;
      }
    } else if (arg == "--pattern" && i + 1 < argc) {
      o->pattern = nvlab_records::FindPattern(argv[++i]);
      if (o->pattern < 0) {
        *status = Usage(("unknown pattern '" + std::string(argv[i]) + "'").c_str());
        return false;
      }
    } else if (arg == "--cut" && o->command == "write") {
      o->cut = true;
    } else if (arg == "--json" && o->command == "check") {
      o->json = true;
    } else {
      *status = Usage(("unknown or incomplete option '" + arg + "'").c_str());
      return false;
    }
  }
  return true;
}

// Open -- maps PATH by its kind; `needed` bytes must fit (write extends plain/DAX files).
bool Open(const Options& o, size_t needed, Mapping* m) {
  struct stat st {};
  if (stat(o.path.c_str(), &st) != 0 && errno == ENOENT && o.command == "write") {
    const int created = open(o.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (created >= 0) close(created);  // a new regular file: a host test's NV stand-in
  }
  if (stat(o.path.c_str(), &st) != 0) {
    (void)std::fprintf(stderr, "nvlab-records: %s: %s\n", o.path.c_str(), std::strerror(errno));
    return false;
  }
  PVOID base = nullptr;
  if (S_ISCHR(st.st_mode)) {
    SIZE_T size = 0;
    if (!NT_SUCCESS(NvMapDaxDevice(o.path.c_str(), &base, &size))) {
      (void)std::fprintf(stderr, "nvlab-records: %s\n", NvGetLastErrorMessage());
      return false;
    }
    m->base = static_cast<unsigned char*>(base);
    m->size = size;
    return true;
  }
  if (S_ISDIR(st.st_mode)) {
    const std::string file = o.path + "/nvlab-records.dat";
    const size_t size = (needed + 4095) & ~size_t{4095};
    if (o.command == "check" && access(file.c_str(), F_OK) != 0) {
      (void)std::fprintf(stderr, "nvlab-records: %s: %s\n", file.c_str(), std::strerror(errno));
      return false;
    }
    if (!NT_SUCCESS(NvMapDaxFile(file.c_str(), size, &base))) {
      (void)std::fprintf(stderr, "nvlab-records: %s\n", NvGetLastErrorMessage());
      return false;
    }
    m->base = static_cast<unsigned char*>(base);
    m->size = size;
    return true;
  }
  const int fd = open(o.path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    (void)std::fprintf(stderr, "nvlab-records: %s: %s\n", o.path.c_str(), std::strerror(errno));
    return false;
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < needed && o.command == "write") {
    if (ftruncate(fd, static_cast<off_t>(needed)) != 0) {
      (void)std::fprintf(stderr, "nvlab-records: %s: %s\n", o.path.c_str(), std::strerror(errno));
      close(fd);
      return false;
    }
    size = needed;
  }
  if (size == 0) {
    (void)std::fprintf(stderr, "nvlab-records: %s is empty\n", o.path.c_str());
    close(fd);
    return false;
  }
  base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) {
    (void)std::fprintf(stderr, "nvlab-records: mmap %s: %s\n", o.path.c_str(),
                       std::strerror(errno));
    return false;
  }
  m->base = static_cast<unsigned char*>(base);
  m->size = size;
  if (!NT_SUCCESS(NvRegisterNonVolatileRange(base, size))) {
    (void)std::fprintf(stderr, "nvlab-records: %s\n", NvGetLastErrorMessage());
    return false;
  }
  m->registered = true;
  return true;
}

// Raw store sequences, not through the API: 64-byte ordinary stores, then one line operation.
void PlainStore(unsigned char* line, const unsigned char* record) {
  auto* dst = reinterpret_cast<volatile uint64_t*>(line);
  uint64_t words[kRecordSize / 8];
  std::memcpy(words, record, kRecordSize);
  for (size_t i = 0; i < kRecordSize / 8; ++i) dst[i] = words[i];
}

void NtStoreNoFence(unsigned char* line, const unsigned char* record) {
  uint64_t words[kRecordSize / 8];
  std::memcpy(words, record, kRecordSize);
  for (size_t i = 0; i < kRecordSize / 8; ++i) {
    __asm__ volatile("movnti %1, (%0)" ::"r"(line + 8 * i), "r"(words[i]) : "memory");
  }
}

bool WriteOne(PVOID token, int pattern, uint32_t index, unsigned char* line) {
  unsigned char record[kRecordSize];
  nvlab_records::Expected(pattern, index, record);
  NTSTATUS s = STATUS_SUCCESS;
  switch (kPatterns[pattern].method) {
    case Method::kFlushDrain:
      s = RtlWriteNonVolatileMemory(token, line, record, kRecordSize, 0);
      if (NT_SUCCESS(s)) s = RtlFlushNonVolatileMemory(token, line, kRecordSize, 0);
      break;
    case Method::kFlushRanges: {
      s = RtlWriteNonVolatileMemory(token, line, record, kRecordSize, 0);
      NV_MEMORY_RANGE ranges[2] = {{line, kRecordSize / 2},
                                   {line + kRecordSize / 2, kRecordSize / 2}};
      if (NT_SUCCESS(s)) s = RtlFlushNonVolatileMemoryRanges(token, ranges, 2, 0);
      break;
    }
    case Method::kWritePersist:
      s = RtlWriteNonVolatileMemory(token, line, record, kRecordSize, WRITE_NV_MEMORY_FLAG_PERSIST);
      break;
    case Method::kWriteNt:
      s = RtlWriteNonVolatileMemory(token, line, record, kRecordSize,
                                    WRITE_NV_MEMORY_FLAG_NON_TEMPORAL);
      break;
    case Method::kFillFlush:
      s = RtlFillNonVolatileMemory(token, line, kRecordSize, record[0], FILL_NV_MEMORY_FLAG_FLUSH);
      break;
    case Method::kFillPersist:
      s = RtlFillNonVolatileMemory(token, line, kRecordSize, record[0],
                                   FILL_NV_MEMORY_FLAG_PERSIST);
      break;
    case Method::kPlainClwbSfence:
      PlainStore(line, record);
      __asm__ volatile("clwb (%0)\n\tsfence" ::"r"(line) : "memory");
      break;
    case Method::kPlainClflushoptSfence:
      PlainStore(line, record);
      __asm__ volatile("clflushopt (%0)\n\tsfence" ::"r"(line) : "memory");
      break;
    case Method::kPlainClflush:
      PlainStore(line, record);
      __asm__ volatile("clflush (%0)" ::"r"(line) : "memory");
      break;
    case Method::kNoFlush:
      s = RtlWriteNonVolatileMemory(token, line, record, kRecordSize, 0);
      break;
    case Method::kFlushNoDrain:
      s = RtlWriteNonVolatileMemory(token, line, record, kRecordSize, 0);
      if (NT_SUCCESS(s)) {
        s = RtlFlushNonVolatileMemory(token, line, kRecordSize, FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN);
      }
      break;
    case Method::kWriteNtNoDrain:
      // The flags cannot ask for unfenced non-temporal stores (NO_DRAIN is invalid with
      // NON_TEMPORAL), so this pattern issues MOVNTI itself and no fence.
      NtStoreNoFence(line, record);
      break;
  }
  if (!NT_SUCCESS(s)) {
    (void)std::fprintf(stderr, "nvlab-records: %s index %u: 0x%08x: %s\n", kPatterns[pattern].name,
                       index, static_cast<unsigned>(s), NvGetLastErrorMessage());
    return false;
  }
  return true;
}

int Write(const Options& o, const Mapping& m, const std::vector<int>& patterns) {
  const size_t needed = patterns.size() * o.count * kRecordSize;
  if (o.cut && mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    // Without it a page fault (a kernel entry) could complete pending flushes before the cut.
    (void)std::fprintf(stderr, "nvlab-records: warning: mlockall: %s\n", std::strerror(errno));
  }
  PVOID token = nullptr;
  if (!NT_SUCCESS(RtlGetNonVolatileToken(m.base, needed, &token))) {
    (void)std::fprintf(stderr, "nvlab-records: no token: %s\n", NvGetLastErrorMessage());
    return kExitIo;
  }
  for (size_t p = 0; p < patterns.size(); ++p) {
    for (unsigned long i = 0; i < o.count; ++i) {
      unsigned char* line = m.base + (p * o.count + i) * kRecordSize;
      if (!WriteOne(token, patterns[p], static_cast<uint32_t>(i), line)) return kExitIo;
    }
  }
  if (o.cut) {
    // No free, no output, no unmapping before the cut: nothing that could enter the kernel.
    NvLabPowerCut();
    (void)std::fputs(
        "nvlab-records: NvLabPowerCut returned: not under the lab's persistence model\n", stderr);
  }
  RtlFreeNonVolatileToken(token);
  (void)std::printf("nvlab-records: wrote %zu records\n", patterns.size() * o.count);
  return 0;
}

int Check(const Options& o, const Mapping& m, const std::vector<int>& patterns) {
  if (o.json) (void)std::fputs("[", stdout);
  bool first = true;
  for (size_t p = 0; p < patterns.size(); ++p) {
    for (unsigned long i = 0; i < o.count; ++i) {
      const size_t offset = (p * o.count + i) * kRecordSize;
      unsigned char expected[kRecordSize];
      nvlab_records::Expected(patterns[p], static_cast<uint32_t>(i), expected);
      const bool survived = offset + kRecordSize <= m.size &&
                            std::memcmp(m.base + offset, expected, kRecordSize) == 0;
      const char* name = kPatterns[patterns[p]].name;
      if (o.json) {
        (void)std::printf("%s\n  {\"pattern\":\"%s\",\"index\":%lu,\"survived\":%s}",
                          first ? "" : ",", name, i, survived ? "true" : "false");
      } else {
        (void)std::printf("record pattern=%s index=%lu survived=%s\n", name, i,
                          survived ? "yes" : "no");
      }
      first = false;
    }
  }
  if (o.json) (void)std::fputs("\n]\n", stdout);
  return std::fflush(stdout) == 0 ? 0 : kExitIo;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int status = 0;
  if (!ParseOptions(argc, argv, &o, &status)) return status;
  std::vector<int> patterns;
  if (o.pattern >= 0) {
    patterns.push_back(o.pattern);
  } else {
    for (size_t i = 0; i < nvlab_records::kPatternCount; ++i)
      patterns.push_back(static_cast<int>(i));
  }
  Mapping m;
  const size_t needed = patterns.size() * o.count * kRecordSize;
  if (!Open(o, needed, &m)) return kExitIo;
  if (o.command == "write" && m.size < needed) {
    (void)std::fprintf(stderr, "nvlab-records: %s holds %zu bytes, %zu needed\n", o.path.c_str(),
                       m.size, needed);
    return kExitIo;
  }
  return o.command == "write" ? Write(o, m, patterns) : Check(o, m, patterns);
}
