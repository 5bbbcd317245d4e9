// x86_64/fill_nt_avx.cc -- FillNtAvx: non-temporal fill with 32-byte VMOVNTDQ (AVX).
#include <immintrin.h>

#include "x86_64/flush.h"
#include "x86_64/nt_kernels.h"

namespace nvrtl::x86_64 {

__attribute__((target("avx"))) void FillNtAvx(void* dst, uint8_t value, size_t len, FlushFn flush) {
  auto* d = static_cast<char*>(dst);
  FillHead(d, value, len, flush);
  const __m256i v = _mm256_set1_epi8(static_cast<char>(value));
  for (; len >= 128; len -= 128, d += 128) {
    auto* out = reinterpret_cast<__m256i*>(d);
    _mm256_stream_si256(out + 0, v);
    _mm256_stream_si256(out + 1, v);
    _mm256_stream_si256(out + 2, v);
    _mm256_stream_si256(out + 3, v);
  }
  for (; len >= 64; len -= 64, d += 64) {
    auto* out = reinterpret_cast<__m256i*>(d);
    _mm256_stream_si256(out + 0, v);
    _mm256_stream_si256(out + 1, v);
  }
  _mm256_zeroupper();
  CachedFill(d, value, len, flush);
}

}  // namespace nvrtl::x86_64
