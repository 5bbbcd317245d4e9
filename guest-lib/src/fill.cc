// fill.cc -- RtlFillNonVolatileMemory (same store policy as write.cc).
#include <cstring>

#include "argument_checks.h"
#include "dispatch.h"
#include "store_completion.h"

extern "C" NVRTL_API NTSTATUS RtlFillNonVolatileMemory(PVOID NvToken, VOID UNALIGNED* NvDestination,
                                                       SIZE_T Size, CONST UCHAR Value,
                                                       ULONG Flags) {
  using namespace nvrtl;
  TokenView view;
  if (NTSTATUS s = CheckStore(NvToken, NvDestination, Size, Flags, &view); !NT_SUCCESS(s)) {
    return s;
  }

  if (Size != 0) {
    auto* d = static_cast<char*>(NvDestination);
    const FlushFn flush = NeedsFlush(view) ? CurrentFlush() : nullptr;
    const bool streaming = StreamingPays(Flags, Size);
    if (streaming) {
      g_dispatch.fill_nt.load(std::memory_order_relaxed)(d, Value, Size,
                                                         Flags == 0 ? nullptr : flush);
    } else {
      std::memset(d, Value, Size);
      if (Flags != 0 && flush != nullptr) flush(d, Size);
    }
  }
  return CompleteStore(view, NvDestination, Size, Flags, __builtin_return_address(0));
}
