// nvrtl_vs_pmdk_bench.cc -- copy-and-persist throughput: libnvrtl vs PMDK vs plain memcpy.
//
// All three write into the same mapping: a 256 MiB file in /dev/shm, registered with
// NvRegisterNonVolatileRange for nvrtl; PMDK runs with PMEM_IS_PMEM_FORCE=1 and takes its
// flush path (no region reports eADR here). Each iteration writes the next `size` bytes of the
// mapping (wrapping), so large sizes stream through memory rather than re-flushing hot lines.
//   memcpy              plain memcpy, no flush (the limit)
//   pmdk                pmem_memcpy_persist
//   nvrtl               RtlWriteNonVolatileMemory(0) + RtlFlushNonVolatileMemory (drains)
//   nvrtl_persist       RtlWriteNonVolatileMemory(WRITE_NV_MEMORY_FLAG_PERSIST)
//   pmdk-3 (table only) pmem_memcpy_nodrain + pmem_flush + pmem_drain: PMDK's form of the
//                       two-call sequence, for a like-with-like ratio
// All figures are MB/s.
// Google Benchmark's usual output comes first; then a paired table (PairedTable) gives MB/s per
// size and the ratios nvrtl/pmdk and persist/pmdk (target: >= 1 everywhere).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <libpmem.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nvrtl/nvrtl.h"

namespace {

constexpr size_t kMapping = 256u << 20;

struct Target {
  unsigned char* base = nullptr;
  PVOID token = nullptr;
  std::vector<unsigned char> source;
};

Target& Shared() {
  static Target t;  // one mapping for every benchmark, made on first use
  if (t.base != nullptr) return t;
  const char* path = "/dev/shm/nvrtl-bench.dat";
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, kMapping) != 0) {
    std::perror(path);
    std::exit(1);
  }
  void* p = mmap(nullptr, kMapping, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  close(fd);
  unlink(path);
  if (p == MAP_FAILED || !NT_SUCCESS(NvRegisterNonVolatileRange(p, kMapping)) ||
      !NT_SUCCESS(RtlGetNonVolatileToken(p, kMapping, &t.token))) {
    (void)std::fprintf(stderr, "nvrtl_bench: cannot set up the mapping: %s\n",
                       NvGetLastErrorMessage());
    std::exit(1);
  }
  t.base = static_cast<unsigned char*>(p);
  t.source.resize(16u << 20);
  for (size_t i = 0; i < t.source.size(); ++i) t.source[i] = static_cast<unsigned char>(i * 131);
  return t;
}

template <typename Copy>
void Run(benchmark::State& state, Copy copy) {
  Target& t = Shared();
  const auto size = static_cast<size_t>(state.range(0));
  size_t offset = 0;
  for (auto _ : state) {
    if (offset + size > kMapping) offset = 0;
    copy(t, t.base + offset, size);
    offset += size;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(size));
}

void BM_memcpy(benchmark::State& state) {
  Run(state, [](Target& t, unsigned char* dst, size_t n) {
    std::memcpy(dst, t.source.data(), n);
    benchmark::ClobberMemory();
  });
}

void BM_pmdk(benchmark::State& state) {
  Run(state, [](Target& t, unsigned char* dst, size_t n) {
    pmem_memcpy_persist(dst, t.source.data(), n);
  });
}

void BM_nvrtl(benchmark::State& state) {
  Run(state, [](Target& t, unsigned char* dst, size_t n) {
    RtlWriteNonVolatileMemory(t.token, dst, t.source.data(), n, 0);
    RtlFlushNonVolatileMemory(t.token, dst, n, 0);
  });
}

void BM_nvrtl_persist(benchmark::State& state) {
  Run(state, [](Target& t, unsigned char* dst, size_t n) {
    RtlWriteNonVolatileMemory(t.token, dst, t.source.data(), n, WRITE_NV_MEMORY_FLAG_PERSIST);
  });
}

#define NVRTL_SIZES ->Arg(64)->Arg(256)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20)
BENCHMARK(BM_memcpy) NVRTL_SIZES;
BENCHMARK(BM_pmdk) NVRTL_SIZES;
BENCHMARK(BM_nvrtl) NVRTL_SIZES;
BENCHMARK(BM_nvrtl_persist) NVRTL_SIZES;

// PairedTable -- the headline figures. On a shared machine absolute speeds drift by 10-20%
// from second to second, so each round times one short batch of every method back to back (in
// rotating order) and the ratio is taken within the round; the table gives medians over rounds.
using CopyFn = void (*)(Target&, unsigned char*, size_t);

void CopyMemcpy(Target& t, unsigned char* dst, size_t n) {
  std::memcpy(dst, t.source.data(), n);
  benchmark::ClobberMemory();
}
void CopyPmdk(Target& t, unsigned char* dst, size_t n) {
  pmem_memcpy_persist(dst, t.source.data(), n);
}
void CopyPmdkThreeCalls(Target& t, unsigned char* dst, size_t n) {
  pmem_memcpy_nodrain(dst, t.source.data(), n);
  pmem_flush(dst, n);
  pmem_drain();
}
void CopyNvrtl(Target& t, unsigned char* dst, size_t n) {
  RtlWriteNonVolatileMemory(t.token, dst, t.source.data(), n, 0);
  RtlFlushNonVolatileMemory(t.token, dst, n, 0);
}
void CopyNvrtlPersist(Target& t, unsigned char* dst, size_t n) {
  RtlWriteNonVolatileMemory(t.token, dst, t.source.data(), n, WRITE_NV_MEMORY_FLAG_PERSIST);
}

double BatchMBps(CopyFn fn, size_t size, size_t* offset) {
  Target& t = Shared();
  const size_t bytes_per_batch = std::max<size_t>(size, 4u << 20);
  const size_t ops = bytes_per_batch / size;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < ops; ++i) {
    if (*offset + size > kMapping) *offset = 0;
    fn(t, t.base + *offset, size);
    *offset += size;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(ops * size) / seconds / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void PairedTable(int rounds, size_t only_size) {
  constexpr int kMethods = 5;
  const CopyFn fns[kMethods] = {CopyMemcpy, CopyPmdk, CopyNvrtl, CopyNvrtlPersist,
                                CopyPmdkThreeCalls};
  (void)std::printf("\nPaired table: median of %d rounds, each timing every method back to back.\n",
                    rounds);
  (void)std::printf("%9s %9s %9s %9s %9s %9s %12s %12s %12s\n", "size", "memcpy", "pmdk", "nvrtl",
                    "persist", "pmdk-3", "nvrtl/pmdk", "persist/pmdk", "nvrtl/pmdk-3");
  for (size_t size : {size_t{64}, size_t{256}, size_t{4} << 10, size_t{64} << 10, size_t{1} << 20,
                      size_t{16} << 20}) {
    if (only_size != 0 && size != only_size) continue;
    std::vector<double> mbps[kMethods], ratio_nvrtl, ratio_persist, ratio_three;
    size_t offset = 0;
    for (int r = 0; r < rounds; ++r) {
      double now[kMethods];
      for (int k = 0; k < kMethods; ++k) {
        const int m = (k + r) % kMethods;
        now[m] = BatchMBps(fns[m], size, &offset);
      }
      for (int m = 0; m < kMethods; ++m) mbps[m].push_back(now[m]);
      ratio_nvrtl.push_back(now[2] / now[1]);
      ratio_persist.push_back(now[3] / now[1]);
      ratio_three.push_back(now[2] / now[4]);
    }
    (void)std::printf("%9zu %9.0f %9.0f %9.0f %9.0f %9.0f %12.2f %12.2f %12.2f\n", size,
                      Median(mbps[0]), Median(mbps[1]), Median(mbps[2]), Median(mbps[3]),
                      Median(mbps[4]), Median(ratio_nvrtl), Median(ratio_persist),
                      Median(ratio_three));
    (void)std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  setenv("PMEM_IS_PMEM_FORCE", "1", 0);
  benchmark::Initialize(&argc, argv);
  // --rounds=N (default 31) for the paired table, --size=BYTES for one of its rows;
  // --paired-only skips Google Benchmark's runs.
  int rounds = 31;
  size_t only_size = 0;
  bool paired_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--rounds=", 9) == 0) rounds = std::max(1, std::atoi(argv[i] + 9));
    if (std::strcmp(argv[i], "--paired-only") == 0) paired_only = true;
    if (std::strncmp(argv[i], "--size=", 7) == 0)
      only_size = std::strtoull(argv[i] + 7, nullptr, 0);
  }
  if (!paired_only) benchmark::RunSpecifiedBenchmarks();
  PairedTable(rounds, only_size);
  benchmark::Shutdown();
  return 0;
}
