// x86_64/cpu.h -- CPUID probes for the cache-flush instructions.
#ifndef NVRTL_SRC_X86_64_CPU_H_
#define NVRTL_SRC_X86_64_CPU_H_

namespace nvrtl::x86_64 {

// CPUID leaf 1 EDX bit 19.
bool HasClflush() noexcept;
// CPUID leaf 7 subleaf 0 EBX bit 23.
bool HasClflushopt() noexcept;
// CPUID leaf 7 subleaf 0 EBX bit 24.
bool HasClwb() noexcept;
// CPUID leaf 7 subleaf 0 EBX bit 5, with OS support for YMM state (XGETBV).
bool HasAvx2() noexcept;
// CPUID leaf 7 subleaf 0 EBX bit 16, with OS support for ZMM state (XGETBV bits 5-7).
bool HasAvx512f() noexcept;

}  // namespace nvrtl::x86_64

#endif  // NVRTL_SRC_X86_64_CPU_H_
