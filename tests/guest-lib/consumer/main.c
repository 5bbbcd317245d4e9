/* A plain C program using libnvrtl: registers a buffer, writes, flushes, frees. Exit 0 = ok. */
#include <nvrtl/nvlab_power_cut.h>
#include <nvrtl/nvrtl.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  static char nv[4096] __attribute__((aligned(64)));
  PVOID token = NULL;
  if (!NT_SUCCESS(NvRegisterNonVolatileRange(nv, sizeof nv))) return 1;
  if (!NT_SUCCESS(RtlGetNonVolatileToken(nv, sizeof nv, &token))) return 2;
  if (!NT_SUCCESS(RtlWriteNonVolatileMemory(token, nv, "hello", 6, WRITE_NV_MEMORY_FLAG_PERSIST)))
    return 3;
  if (strcmp(nv, "hello") != 0) return 4;
  if (!NT_SUCCESS(RtlFreeNonVolatileToken(token))) return 5;
  if (NVLAB_POWER_CUT_CPUID_LEAF != 0x4E564C43u) return 6;
  return NvLabPowerCut() == STATUS_NOT_SUPPORTED ? 0 : 7;
}
