// x86_64/flush.h -- the three cache-line write-back loops (no fences).
//
// FlushClwb, FlushClflushopt and FlushClflush write back every 64-byte line that
// [addr, addr+len) touches, unaligned start and end included. The asm statements clobber
// "memory" so the compiler cannot sink earlier stores below a flush. None of them fences:
// draining is drain.cc's job (SFENCE).
#ifndef NVRTL_SRC_X86_64_FLUSH_H_
#define NVRTL_SRC_X86_64_FLUSH_H_

#include <cstddef>
#include <cstdint>

namespace nvrtl::x86_64 {

constexpr uintptr_t kCacheLine = 64;

void FlushClwb(const void* addr, size_t len);
void FlushClflushopt(const void* addr, size_t len);
void FlushClflush(const void* addr, size_t len);

// Executions per kernel, for the tests' "the forced kind was really used" check.
uint64_t ClwbExecutions() noexcept;
uint64_t ClflushoptExecutions() noexcept;
uint64_t ClflushExecutions() noexcept;

// Sfence -- orders (completes) this CPU's earlier flushes and non-temporal stores.
inline void Sfence() noexcept {
  __asm__ volatile("sfence" ::: "memory");
}

}  // namespace nvrtl::x86_64

#endif  // NVRTL_SRC_X86_64_FLUSH_H_
