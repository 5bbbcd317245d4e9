// write.cc -- RtlWriteNonVolatileMemory.
//
// Policy (docs/api/RtlWriteNonVolatileMemory.md): copies of at least the non-temporal threshold
// stream past the cache (no write-back needed, a drain is); smaller copies use ordinary stores
// and, when a flag asks for durability, CLWB/CLFLUSHOPT/CLFLUSH of the touched lines.
// Overlapping buffers take memmove (then flush) so the result is memmove's.
#include <cstring>

#include "argument_checks.h"
#include "dispatch.h"
#include "store_completion.h"

extern "C" NVRTL_API NTSTATUS RtlWriteNonVolatileMemory(PVOID NvToken,
                                                        VOID UNALIGNED* NvDestination,
                                                        CONST VOID UNALIGNED* Source, SIZE_T Size,
                                                        ULONG Flags) {
  using namespace nvrtl;
  TokenView view;
  if (NTSTATUS s = CheckStore(NvToken, NvDestination, Size, Flags, &view); !NT_SUCCESS(s)) {
    return s;
  }
  const auto src = reinterpret_cast<uintptr_t>(Source);
  if (Size != 0 && Source == nullptr) {
    return Fail(STATUS_INVALID_PARAMETER, "Source is NULL with a non-zero size");
  }
  if (src + Size < src) return Fail(STATUS_INVALID_PARAMETER, "Source + Size overflows");

  if (Size != 0) {
    auto* d = static_cast<char*>(NvDestination);
    const auto* s = static_cast<const char*>(Source);
    const bool overlap = d < s + Size && s < d + Size;
    const FlushFn flush = NeedsFlush(view) ? CurrentFlush() : nullptr;
    const bool streaming = !overlap && StreamingPays(Flags, Size);
    if (streaming) {
      // Flags 0 leaves partial head/tail lines to the caller's flush, like the rest.
      g_dispatch.copy_nt.load(std::memory_order_relaxed)(d, s, Size, Flags == 0 ? nullptr : flush);
    } else {
      std::memmove(d, s, Size);
      if (Flags != 0 && flush != nullptr) flush(d, Size);
    }
  }
  return CompleteStore(view, NvDestination, Size, Flags, __builtin_return_address(0));
}
