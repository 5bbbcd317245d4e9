// dispatch.h -- the one table of CPU-specific kernels, chosen once at load.
//
// A load-time constructor (dispatch.cc) probes the CPU (x86_64/cpu.h), reads the NVRTL_*
// environment overrides and fills the table; the Rtl* functions then call through it with no
// further branching on CPU features. Overrides:
//   NVRTL_FLUSH=clwb|clflushopt|clflush   flush instruction (default: best CPUID offers)
//   NVRTL_MOVNT_THRESHOLD=<bytes>         copies/fills this large use non-temporal stores
//   NVRTL_PERSISTENCE=adr|eadr            persistence domain of every token
//   NVRTL_NT=sse2|avx|avx512f             non-temporal kernels (default: best available)
//   NVRTL_LOG=1                           print the choices on stderr
// Thread-safety: fields are relaxed atomics so that the test hook may switch the flush kind while
// other threads run; on x86-64 a relaxed load is a plain load.
#ifndef NVRTL_SRC_DISPATCH_H_
#define NVRTL_SRC_DISPATCH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace nvrtl {

enum class FlushKind : uint8_t { kClwb = 1, kClflushopt = 2, kClflush = 3 };

// Writes back every cache line that [addr, addr+len) touches; issues no fence.
using FlushFn = void (*)(const void* addr, size_t len);
// Copies/fills with non-temporal stores; partial head and tail lines use ordinary stores and are
// then flushed with `flush` (nullptr: leave them to the caller). Issues no fence. No overlap.
using CopyNtFn = void (*)(void* dst, const void* src, size_t len, FlushFn flush);
using FillNtFn = void (*)(void* dst, uint8_t value, size_t len, FlushFn flush);

// PersistenceDomain -- where data is durable once written back.
enum class PersistenceDomain : uint8_t { kMemoryController = 1, kCpuCache = 2 };

struct Dispatch {
  std::atomic<FlushFn> flush{nullptr};
  std::atomic<FlushKind> flush_kind{FlushKind::kClflush};
  std::atomic<CopyNtFn> copy_nt{nullptr};
  std::atomic<FillNtFn> fill_nt{nullptr};
  std::atomic<size_t> movnt_threshold{0};
  // 0: no override; else the PersistenceDomain every token gets (NVRTL_PERSISTENCE).
  std::atomic<uint8_t> persistence_override{0};
};

// The table. Global because it describes the process's CPU, filled once before main().
extern Dispatch g_dispatch;

// InitDispatch -- fills g_dispatch (idempotent; the constructor calls it).
void InitDispatch() noexcept;

// Test hooks (tests/guest-lib): force a flush kind, and count executions per kind.
void SetFlushKindForTesting(FlushKind kind) noexcept;
uint64_t FlushExecutionsForTesting(FlushKind kind) noexcept;

inline FlushFn CurrentFlush() noexcept {
  return g_dispatch.flush.load(std::memory_order_relaxed);
}

}  // namespace nvrtl

#endif  // NVRTL_SRC_DISPATCH_H_
