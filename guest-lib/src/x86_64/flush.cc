// x86_64/flush.cc -- FlushClwb, FlushClflushopt, FlushClflush.
#include "x86_64/flush.h"

#include <atomic>

namespace nvrtl::x86_64 {
namespace {

// Test-visible counters. Relaxed load+store, not fetch_add: a locked instruction per flush
// would cost more than the counter is worth; a lost increment under threads is harmless.
std::atomic<uint64_t> g_clwb_runs{0};
std::atomic<uint64_t> g_clflushopt_runs{0};
std::atomic<uint64_t> g_clflush_runs{0};

inline void Bump(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Loop -- applies `line_op` to each line of [addr, addr+len), four lines per iteration.
template <typename LineOp>
inline void Loop(const void* addr, size_t len, LineOp line_op) {
  if (len == 0) return;
  uintptr_t p = reinterpret_cast<uintptr_t>(addr) & ~(kCacheLine - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (; p + 4 * kCacheLine <= end; p += 4 * kCacheLine) {
    line_op(p);
    line_op(p + kCacheLine);
    line_op(p + 2 * kCacheLine);
    line_op(p + 3 * kCacheLine);
  }
  for (; p < end; p += kCacheLine) line_op(p);
}

}  // namespace

void FlushClwb(const void* addr, size_t len) {
  Bump(g_clwb_runs);
  Loop(addr, len, [](uintptr_t p) { __asm__ volatile("clwb (%0)" ::"r"(p) : "memory"); });
}

void FlushClflushopt(const void* addr, size_t len) {
  Bump(g_clflushopt_runs);
  Loop(addr, len, [](uintptr_t p) { __asm__ volatile("clflushopt (%0)" ::"r"(p) : "memory"); });
}

void FlushClflush(const void* addr, size_t len) {
  Bump(g_clflush_runs);
  Loop(addr, len, [](uintptr_t p) { __asm__ volatile("clflush (%0)" ::"r"(p) : "memory"); });
}

uint64_t ClwbExecutions() noexcept {
  return g_clwb_runs.load(std::memory_order_relaxed);
}
uint64_t ClflushoptExecutions() noexcept {
  return g_clflushopt_runs.load(std::memory_order_relaxed);
}
uint64_t ClflushExecutions() noexcept {
  return g_clflush_runs.load(std::memory_order_relaxed);
}

}  // namespace nvrtl::x86_64
