// x86_64/copy_nt_sse2.cc -- CopyNtSse2: non-temporal copy with 16-byte MOVNTDQ.
#include <emmintrin.h>

#include "x86_64/flush.h"
#include "x86_64/nt_kernels.h"

namespace nvrtl::x86_64 {

void CopyNtSse2(void* dst, const void* src, size_t len, FlushFn flush) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  CopyHead(d, s, len, flush);
  for (; len >= 128; len -= 128, d += 128, s += 128) {
    const auto* in = reinterpret_cast<const __m128i*>(s);
    auto* out = reinterpret_cast<__m128i*>(d);
    __m128i r0 = _mm_loadu_si128(in + 0), r1 = _mm_loadu_si128(in + 1);
    __m128i r2 = _mm_loadu_si128(in + 2), r3 = _mm_loadu_si128(in + 3);
    __m128i r4 = _mm_loadu_si128(in + 4), r5 = _mm_loadu_si128(in + 5);
    __m128i r6 = _mm_loadu_si128(in + 6), r7 = _mm_loadu_si128(in + 7);
    _mm_stream_si128(out + 0, r0);
    _mm_stream_si128(out + 1, r1);
    _mm_stream_si128(out + 2, r2);
    _mm_stream_si128(out + 3, r3);
    _mm_stream_si128(out + 4, r4);
    _mm_stream_si128(out + 5, r5);
    _mm_stream_si128(out + 6, r6);
    _mm_stream_si128(out + 7, r7);
  }
  for (; len >= 64; len -= 64, d += 64, s += 64) {
    const auto* in = reinterpret_cast<const __m128i*>(s);
    auto* out = reinterpret_cast<__m128i*>(d);
    __m128i r0 = _mm_loadu_si128(in + 0), r1 = _mm_loadu_si128(in + 1);
    __m128i r2 = _mm_loadu_si128(in + 2), r3 = _mm_loadu_si128(in + 3);
    _mm_stream_si128(out + 0, r0);
    _mm_stream_si128(out + 1, r1);
    _mm_stream_si128(out + 2, r2);
    _mm_stream_si128(out + 3, r3);
  }
  CachedCopy(d, s, len, flush);
}

}  // namespace nvrtl::x86_64
