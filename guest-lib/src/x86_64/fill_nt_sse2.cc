// x86_64/fill_nt_sse2.cc -- FillNtSse2: non-temporal fill with 16-byte MOVNTDQ.
#include <emmintrin.h>

#include "x86_64/flush.h"
#include "x86_64/nt_kernels.h"

namespace nvrtl::x86_64 {

void FillNtSse2(void* dst, uint8_t value, size_t len, FlushFn flush) {
  auto* d = static_cast<char*>(dst);
  FillHead(d, value, len, flush);
  const __m128i v = _mm_set1_epi8(static_cast<char>(value));
  for (; len >= 64; len -= 64, d += 64) {
    auto* out = reinterpret_cast<__m128i*>(d);
    _mm_stream_si128(out + 0, v);
    _mm_stream_si128(out + 1, v);
    _mm_stream_si128(out + 2, v);
    _mm_stream_si128(out + 3, v);
  }
  CachedFill(d, value, len, flush);
}

}  // namespace nvrtl::x86_64
