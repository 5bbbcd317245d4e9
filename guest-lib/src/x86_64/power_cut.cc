// x86_64/power_cut.cc -- NvLabPowerCut.
//
// Deliberately tiny: save rbx (CPUID clobbers it), two register moves, CPUID, a constant return.
// No flush, fence, locked instruction, system call, TLS access or error-message write happens
// before the CPUID (the stack stores of call and push touch no NV memory), so that
// the lab sees exactly the flushes the program left pending. The "memory" clobber keeps the
// compiler from sinking the caller's earlier stores below the trigger.
#include "nvrtl/nvlab_power_cut.h"
#include "nvrtl/nvrtl.h"

extern "C" NVRTL_API NTSTATUS NvLabPowerCut(void) {
  unsigned eax = NVLAB_POWER_CUT_CPUID_LEAF;
  unsigned ecx = NVLAB_POWER_CUT_CPUID_SUBLEAF;
  unsigned ebx = 0, edx = 0;
  __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx) : : "memory");
  return STATUS_NOT_SUPPORTED;
}
