// persistence_domain_bench.cc -- what the persistence model costs per guest event, alone.
//
// The TCG plugin calls the model at every flush and every fence a guest runs; a flush-heavy
// workload (nvlab-records --pattern flush-drain: one CLWB and one SFENCE a record) is the
// model's worst case (BENCHMARKS.md, "The model's cost per event"). These benchmarks feed the model
// the same events synthetically, without QEMU, so that a change to the model is measured apart from
// the host's noise:
//   flush_fence      FlushOpt + Fence on one CPU, the line moving on through a 64 MiB NVDIMM
//                    (a streaming writer: every line is new to the media once per pass)
//   flush_fence_hot  the same on one line (the media and its page are hot)
//   clflush          Clflush, the line moving on (commits at once)
//   nt_store_fence   a 64-byte NtStore + Fence, the line moving on
//   idle_fence       Fence with nothing pending (the kernel's locked instructions)
// Each figure is ns per iteration. The view is the domain's own buffer, written once before the
// timing so that a flush snapshots real bytes; the media pages fault in during the first pass,
// as they do in a guest.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "nvlab/model/persistence_domain.h"

namespace {

using nvlab::model::ModelStatus;
using nvlab::model::PersistenceDomain;

constexpr uint64_t kBase = 0x100000000ULL;
constexpr uint64_t kSize = 64ULL << 20;
constexpr uint64_t kLine = 64;
constexpr unsigned kCpu = 64;  // The plugin's first CPU known by its per-CPU area.

// MakeDomain gives *domain one 64 MiB NVDIMM whose view is non-zero everywhere.
bool MakeDomain(PersistenceDomain* domain, benchmark::State& state) {
  if (domain->AddNvdimm(kBase, kSize, nullptr) != ModelStatus::kOk) {
    state.SkipWithError("AddNvdimm failed");
    return false;
  }
  std::memset(domain->nvdimm(0).view(), 0xA5, kSize);
  return true;
}

// NextLine walks the NVDIMM's lines and wraps.
uint64_t NextLine(uint64_t* offset) {
  const uint64_t gpa = kBase + *offset;
  *offset = (*offset + kLine) % kSize;
  return gpa;
}

void BM_flush_fence(benchmark::State& state) {
  PersistenceDomain domain;
  if (!MakeDomain(&domain, state)) return;
  uint64_t offset = 0;
  while (state.KeepRunning()) {
    domain.FlushOpt(kCpu, NextLine(&offset));
    benchmark::DoNotOptimize(domain.Fence(kCpu));
  }
}
BENCHMARK(BM_flush_fence);

void BM_flush_fence_hot(benchmark::State& state) {
  PersistenceDomain domain;
  if (!MakeDomain(&domain, state)) return;
  while (state.KeepRunning()) {
    domain.FlushOpt(kCpu, kBase);
    benchmark::DoNotOptimize(domain.Fence(kCpu));
  }
}
BENCHMARK(BM_flush_fence_hot);

void BM_clflush(benchmark::State& state) {
  PersistenceDomain domain;
  if (!MakeDomain(&domain, state)) return;
  uint64_t offset = 0;
  while (state.KeepRunning()) domain.Clflush(kCpu, NextLine(&offset));
}
BENCHMARK(BM_clflush);

void BM_nt_store_fence(benchmark::State& state) {
  PersistenceDomain domain;
  if (!MakeDomain(&domain, state)) return;
  std::array<uint8_t, kLine> bytes;
  bytes.fill(0x5A);
  uint64_t offset = 0;
  while (state.KeepRunning()) {
    domain.NtStore(kCpu, NextLine(&offset), kLine, bytes.data());
    benchmark::DoNotOptimize(domain.Fence(kCpu));
  }
}
BENCHMARK(BM_nt_store_fence);

void BM_idle_fence(benchmark::State& state) {
  PersistenceDomain domain;
  if (!MakeDomain(&domain, state)) return;
  while (state.KeepRunning()) benchmark::DoNotOptimize(domain.Fence(kCpu));
}
BENCHMARK(BM_idle_fence);

}  // namespace

BENCHMARK_MAIN();
