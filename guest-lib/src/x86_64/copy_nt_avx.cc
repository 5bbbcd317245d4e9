// x86_64/copy_nt_avx.cc -- CopyNtAvx: non-temporal copy with 32-byte VMOVNTDQ (AVX).
#include <immintrin.h>

#include "x86_64/flush.h"
#include "x86_64/nt_kernels.h"

namespace nvrtl::x86_64 {

__attribute__((target("avx"))) void CopyNtAvx(void* dst, const void* src, size_t len,
                                              FlushFn flush) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  CopyHead(d, s, len, flush);
  for (; len >= 256; len -= 256, d += 256, s += 256) {
    const auto* in = reinterpret_cast<const __m256i*>(s);
    auto* out = reinterpret_cast<__m256i*>(d);
    __m256i r0 = _mm256_loadu_si256(in + 0), r1 = _mm256_loadu_si256(in + 1);
    __m256i r2 = _mm256_loadu_si256(in + 2), r3 = _mm256_loadu_si256(in + 3);
    __m256i r4 = _mm256_loadu_si256(in + 4), r5 = _mm256_loadu_si256(in + 5);
    __m256i r6 = _mm256_loadu_si256(in + 6), r7 = _mm256_loadu_si256(in + 7);
    _mm256_stream_si256(out + 0, r0);
    _mm256_stream_si256(out + 1, r1);
    _mm256_stream_si256(out + 2, r2);
    _mm256_stream_si256(out + 3, r3);
    _mm256_stream_si256(out + 4, r4);
    _mm256_stream_si256(out + 5, r5);
    _mm256_stream_si256(out + 6, r6);
    _mm256_stream_si256(out + 7, r7);
  }
  for (; len >= 64; len -= 64, d += 64, s += 64) {
    const auto* in = reinterpret_cast<const __m256i*>(s);
    auto* out = reinterpret_cast<__m256i*>(d);
    __m256i r0 = _mm256_loadu_si256(in + 0), r1 = _mm256_loadu_si256(in + 1);
    _mm256_stream_si256(out + 0, r0);
    _mm256_stream_si256(out + 1, r1);
  }
  _mm256_zeroupper();
  CachedCopy(d, s, len, flush);
}

}  // namespace nvrtl::x86_64
