/* header_c_check.c -- <nvrtl/nvrtl.h>, <nvrtl/nvlab_power_cut.h> and
 * <nvrtl/nvlab_recording_marker.h> compiled as strict C11
 * (-std=c11 -pedantic -Werror). */
#include "nvrtl/nvlab_power_cut.h"
#include "nvrtl/nvlab_recording_marker.h"
#include "nvrtl/nvrtl.h"

_Static_assert(sizeof(NV_MEMORY_RANGE) == 16, "NV_MEMORY_RANGE is 16 bytes");
_Static_assert(sizeof(ULONG) == 4, "ULONG is 32 bits as on Windows");
_Static_assert(sizeof(NTSTATUS) == 4, "NTSTATUS is 32 bits");
_Static_assert(WRITE_NV_MEMORY_FLAG_PERSIST == 3, "PERSIST = FLUSH | NON_TEMPORAL");
_Static_assert(FILL_NV_MEMORY_FLAG_NO_DRAIN == 0x100, "NO_DRAIN value");
_Static_assert(NVLAB_POWER_CUT_CPUID_LEAF == 0x4E564C43u, "leaf \"NVLC\"");
_Static_assert(NVLAB_POWER_CUT_CPUID_SUBLEAF == 0x50435554u, "subleaf \"PCUT\"");
_Static_assert(NVLAB_RECORDING_BEGIN_CPUID_SUBLEAF == 0x52424547u, "subleaf \"RBEG\"");
_Static_assert(NVLAB_RECORDING_END_CPUID_SUBLEAF == 0x52454E44u, "subleaf \"REND\"");

/* NvrtlHeaderCheckFromC -- takes each function's address with its exact C type. */
int NvrtlHeaderCheckFromC(void);
int NvrtlHeaderCheckFromC(void) {
  NTSTATUS (*get)(PVOID, SIZE_T, PVOID*) = RtlGetNonVolatileToken;
  NTSTATUS (*free_token)(PVOID) = RtlFreeNonVolatileToken;
  NTSTATUS (*flush)(PVOID, PVOID, SIZE_T, ULONG) = RtlFlushNonVolatileMemory;
  NTSTATUS (*ranges)(PVOID, PNV_MEMORY_RANGE, SIZE_T, ULONG) = RtlFlushNonVolatileMemoryRanges;
  NTSTATUS (*drain)(PVOID) = RtlDrainNonVolatileFlush;
  NTSTATUS (*write)(PVOID, VOID*, CONST VOID*, SIZE_T, ULONG) = RtlWriteNonVolatileMemory;
  NTSTATUS (*fill)(PVOID, VOID*, SIZE_T, CONST UCHAR, ULONG) = RtlFillNonVolatileMemory;
  NTSTATUS (*cut)(void) = NvLabPowerCut;
  NTSTATUS status = STATUS_INVALID_PARAMETER;
  return get != 0 && free_token != 0 && flush != 0 && ranges != 0 && drain != 0 && write != 0 &&
                 fill != 0 && cut != 0 && !NT_SUCCESS(status) &&
                 (ULONG_PTR)FLUSH_NV_MEMORY_DEFAULT_TOKEN == (ULONG_PTR)-1
             ? 1
             : 0;
}
