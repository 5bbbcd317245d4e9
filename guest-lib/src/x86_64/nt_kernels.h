// x86_64/nt_kernels.h -- non-temporal copy and fill kernels, one file per instruction set.
//
// Contract (dispatch.h CopyNtFn / FillNtFn): the 64-byte-aligned middle is written with
// non-temporal stores; the partial head and tail lines with ordinary stores, then flushed with
// `flush` when it is not nullptr. No fence. Source and destination must not overlap.
#ifndef NVRTL_SRC_X86_64_NT_KERNELS_H_
#define NVRTL_SRC_X86_64_NT_KERNELS_H_

#include "dispatch.h"

namespace nvrtl::x86_64 {

void CopyNtSse2(void* dst, const void* src, size_t len, FlushFn flush);
void CopyNtAvx(void* dst, const void* src, size_t len, FlushFn flush);
void FillNtSse2(void* dst, uint8_t value, size_t len, FlushFn flush);
void FillNtAvx(void* dst, uint8_t value, size_t len, FlushFn flush);
void CopyNtAvx512f(void* dst, const void* src, size_t len, FlushFn flush);
void FillNtAvx512f(void* dst, uint8_t value, size_t len, FlushFn flush);

}  // namespace nvrtl::x86_64

#endif  // NVRTL_SRC_X86_64_NT_KERNELS_H_
