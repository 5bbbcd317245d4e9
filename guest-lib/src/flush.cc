// flush.cc -- RtlFlushNonVolatileMemory, RtlFlushNonVolatileMemoryRanges.
#include "x86_64/flush.h"
#include "argument_checks.h"
#include "dispatch.h"
#include "verifier.h"

extern "C" NVRTL_API NTSTATUS RtlFlushNonVolatileMemory(PVOID NvToken, PVOID NvBuffer, SIZE_T Size,
                                                        ULONG Flags) {
  using namespace nvrtl;
  TokenView view;
  if (NTSTATUS s = CheckToken(NvToken, &view); !NT_SUCCESS(s)) return s;
  if (NTSTATUS s = CheckFlushFlags(Flags); !NT_SUCCESS(s)) return s;
  if (NTSTATUS s = CheckRange(view, NvBuffer, Size); !NT_SUCCESS(s)) return s;
  if (Size != 0 && NeedsFlush(view)) CurrentFlush()(NvBuffer, Size);
  const bool drain = (Flags & FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN) == 0;
  // Always SFENCE to drain, even after CLFLUSH: an earlier non-temporal Write needs it.
  if (drain) x86_64::Sfence();
  if (view.verifier != nullptr) {
    const size_t offset = Size == 0 ? 0 : reinterpret_cast<uintptr_t>(NvBuffer) - view.base;
    if (drain) {
      view.verifier->MarkFlushedAndDrained(offset, Size);
    } else {
      view.verifier->MarkFlushedNotDrained(offset, Size);
    }
  }
  return STATUS_SUCCESS;
}

extern "C" NVRTL_API NTSTATUS RtlFlushNonVolatileMemoryRanges(PVOID NvToken,
                                                              PNV_MEMORY_RANGE NvRanges,
                                                              SIZE_T NumRanges, ULONG Flags) {
  using namespace nvrtl;
  TokenView view;
  if (NTSTATUS s = CheckToken(NvToken, &view); !NT_SUCCESS(s)) return s;
  if (NTSTATUS s = CheckFlushFlags(Flags); !NT_SUCCESS(s)) return s;
  if (NumRanges != 0 && NvRanges == nullptr) {
    return Fail(STATUS_INVALID_PARAMETER, "NvRanges is NULL with NumRanges > 0");
  }
  // Validate every range before flushing any, so a bad range changes nothing.
  for (SIZE_T i = 0; i < NumRanges; ++i) {
    if (NTSTATUS s = CheckRange(view, NvRanges[i].BaseAddress, NvRanges[i].Length);
        !NT_SUCCESS(s)) {
      return s;
    }
  }
  if (NeedsFlush(view)) {
    const FlushFn flush = CurrentFlush();
    for (SIZE_T i = 0; i < NumRanges; ++i) {
      if (NvRanges[i].Length != 0) flush(NvRanges[i].BaseAddress, NvRanges[i].Length);
    }
  }
  const bool drain = (Flags & FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN) == 0;
  if (drain) x86_64::Sfence();
  if (view.verifier != nullptr) {
    for (SIZE_T i = 0; i < NumRanges; ++i) {
      if (NvRanges[i].Length == 0) continue;
      const size_t offset = reinterpret_cast<uintptr_t>(NvRanges[i].BaseAddress) - view.base;
      if (drain) {
        view.verifier->MarkFlushedAndDrained(offset, NvRanges[i].Length);
      } else {
        view.verifier->MarkFlushedNotDrained(offset, NvRanges[i].Length);
      }
    }
    if (drain) view.verifier->MarkDrained();
  }
  return STATUS_SUCCESS;
}
