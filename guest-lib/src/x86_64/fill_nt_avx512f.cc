// x86_64/fill_nt_avx512f.cc -- FillNtAvx512f: non-temporal fill, one 64-byte VMOVNTDQ per line.
#include <immintrin.h>

#include "x86_64/flush.h"
#include "x86_64/nt_kernels.h"

namespace nvrtl::x86_64 {

__attribute__((target("avx512f"))) void FillNtAvx512f(void* dst, uint8_t value, size_t len,
                                                      FlushFn flush) {
  auto* d = static_cast<char*>(dst);
  FillHead(d, value, len, flush);
  const __m512i v = _mm512_set1_epi32(static_cast<int>(0x01010101u * value));
  for (; len >= 256; len -= 256, d += 256) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), v);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 64), v);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 128), v);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 192), v);
  }
  for (; len >= 64; len -= 64, d += 64) _mm512_stream_si512(reinterpret_cast<__m512i*>(d), v);
  CachedFill(d, value, len, flush);
}

}  // namespace nvrtl::x86_64
