// x86_64/init.h -- fills the dispatch table's CPU-specific entries.
#ifndef NVRTL_SRC_X86_64_INIT_H_
#define NVRTL_SRC_X86_64_INIT_H_

#include "dispatch.h"

namespace nvrtl::x86_64 {

// NtIsa -- instruction set of the non-temporal kernels.
enum class NtIsa { kBest, kSse2, kAvx, kAvx512f };

// InitCpuDispatch -- picks CLWB > CLFLUSHOPT > CLFLUSH (or `forced`, when not nullptr and the CPU
// has it) and the best non-temporal kernels (or `isa`, if the CPU has it). Returns false if
// `forced` or `isa` is not available.
bool InitCpuDispatch(Dispatch& table, const FlushKind* forced, NtIsa isa) noexcept;

// FlushFor -- the kernel executing `kind`.
FlushFn FlushFor(FlushKind kind) noexcept;

// ExecutionsOf -- how often the kernel for `kind` has run.
uint64_t ExecutionsOf(FlushKind kind) noexcept;

}  // namespace nvrtl::x86_64

#endif  // NVRTL_SRC_X86_64_INIT_H_
