// x86_64/copy_nt_avx512f.cc -- CopyNtAvx512f: non-temporal copy, one 64-byte VMOVNTDQ per line.
#include <immintrin.h>

#include "x86_64/flush.h"
#include "x86_64/nt_kernels.h"

namespace nvrtl::x86_64 {

__attribute__((target("avx512f"))) void CopyNtAvx512f(void* dst, const void* src, size_t len,
                                                      FlushFn flush) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  CopyHead(d, s, len, flush);
  for (; len >= 256; len -= 256, d += 256, s += 256) {
    const __m512i r0 = _mm512_loadu_si512(s);
    const __m512i r1 = _mm512_loadu_si512(s + 64);
    const __m512i r2 = _mm512_loadu_si512(s + 128);
    const __m512i r3 = _mm512_loadu_si512(s + 192);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), r0);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 64), r1);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 128), r2);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 192), r3);
  }
  for (; len >= 64; len -= 64, d += 64, s += 64) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), _mm512_loadu_si512(s));
  }
  CachedCopy(d, s, len, flush);
}

}  // namespace nvrtl::x86_64
