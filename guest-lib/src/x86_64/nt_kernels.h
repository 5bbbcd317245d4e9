// x86_64/nt_kernels.h -- non-temporal copy and fill kernels, one file per instruction set.
//
// Contract (dispatch.h CopyNtFn / FillNtFn): the 64-byte-aligned middle is written with
// non-temporal stores; the partial head and tail lines with ordinary stores, then flushed with
// `flush` when it is not nullptr. No fence. Source and destination must not overlap.
#ifndef NVRTL_SRC_X86_64_NT_KERNELS_H_
#define NVRTL_SRC_X86_64_NT_KERNELS_H_

#include <cstdint>
#include <cstring>

#include "dispatch.h"
#include "x86_64/flush.h"

namespace nvrtl::x86_64 {

// HeadBytes -- how many bytes from dst to its next 64-byte boundary, at most len: the partial
// line every kernel writes with ordinary stores before streaming.
inline size_t HeadBytes(const void* dst, size_t len) {
  const size_t head =
      (kCacheLine - (reinterpret_cast<uintptr_t>(dst) & (kCacheLine - 1))) & (kCacheLine - 1);
  return head < len ? head : len;
}

// CachedCopy / CachedFill -- a partial head or tail line: ordinary stores, then `flush` when
// it is not nullptr. Nothing for n == 0.
inline void CachedCopy(char* d, const char* s, size_t n, FlushFn flush) {
  if (n == 0) return;
  std::memcpy(d, s, n);
  if (flush != nullptr) flush(d, n);
}
inline void CachedFill(char* d, uint8_t value, size_t n, FlushFn flush) {
  if (n == 0) return;
  std::memset(d, value, n);
  if (flush != nullptr) flush(d, n);
}

// CopyHead / FillHead -- the partial line from d to its next 64-byte boundary (HeadBytes), with
// CachedCopy / CachedFill; d (and s) then point at the boundary and len counts what is left.
inline void CopyHead(char*& d, const char*& s, size_t& len, FlushFn flush) {
  const size_t head = HeadBytes(d, len);
  CachedCopy(d, s, head, flush);
  d += head;
  s += head;
  len -= head;
}
inline void FillHead(char*& d, uint8_t value, size_t& len, FlushFn flush) {
  const size_t head = HeadBytes(d, len);
  CachedFill(d, value, head, flush);
  d += head;
  len -= head;
}

void CopyNtSse2(void* dst, const void* src, size_t len, FlushFn flush);
void CopyNtAvx(void* dst, const void* src, size_t len, FlushFn flush);
void FillNtSse2(void* dst, uint8_t value, size_t len, FlushFn flush);
void FillNtAvx(void* dst, uint8_t value, size_t len, FlushFn flush);
void CopyNtAvx512f(void* dst, const void* src, size_t len, FlushFn flush);
void FillNtAvx512f(void* dst, uint8_t value, size_t len, FlushFn flush);

}  // namespace nvrtl::x86_64

#endif  // NVRTL_SRC_X86_64_NT_KERNELS_H_
