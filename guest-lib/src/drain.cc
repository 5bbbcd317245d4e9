// drain.cc -- RtlDrainNonVolatileFlush.
#include "argument_checks.h"
#include "verifier.h"
#include "x86_64/flush.h"

extern "C" NVRTL_API NTSTATUS RtlDrainNonVolatileFlush(PVOID NvToken) {
  using namespace nvrtl;
  TokenView view;
  if (NTSTATUS s = CheckToken(NvToken, &view); !NT_SUCCESS(s)) return s;
  x86_64::Sfence();
  if (view.verifier != nullptr) view.verifier->MarkDrained();
  return STATUS_SUCCESS;
}
