// x86_64/cpu.cc -- HasClflush, HasClflushopt, HasClwb, HasAvx2, HasAvx512f.
#include "x86_64/cpu.h"

#include <cpuid.h>

namespace nvrtl::x86_64 {
namespace {

bool Leaf7Ebx(unsigned bit) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> bit) & 1u;
}

}  // namespace

bool HasClflush() noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (d >> 19) & 1u;
}

bool HasClflushopt() noexcept {
  return Leaf7Ebx(23);
}
bool HasClwb() noexcept {
  return Leaf7Ebx(24);
}

bool HasAvx2() noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool osxsave = (c >> 27) & 1u;
  const bool avx = (c >> 28) & 1u;
  if (!osxsave || !avx) return false;
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x6u) != 0x6u) return false;  // XMM and YMM state enabled by the OS
  return Leaf7Ebx(5);
}

bool HasAvx512f() noexcept {
  if (!HasAvx2()) return false;  // also checks OSXSAVE and YMM state
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0xE6u) != 0xE6u) return false;  // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM
  return Leaf7Ebx(16);
}

}  // namespace nvrtl::x86_64
