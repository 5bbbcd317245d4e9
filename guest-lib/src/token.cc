// token.cc -- RtlGetNonVolatileToken, RtlFreeNonVolatileToken.
#include <vector>

#include "last_error.h"
#include "nv_range_registry.h"
#include "token_table.h"
#include "verifier.h"

extern "C" NVRTL_API NTSTATUS RtlGetNonVolatileToken(PVOID NvBuffer, SIZE_T Size, PVOID* NvToken) {
  using namespace nvrtl;
  if (NvToken == nullptr) return Fail(STATUS_INVALID_PARAMETER, "NvToken is NULL");
  if (NvBuffer == nullptr) return Fail(STATUS_INVALID_PARAMETER, "NvBuffer is NULL");
  if (Size == 0) return Fail(STATUS_INVALID_PARAMETER, "Size is 0");
  const auto base = reinterpret_cast<uintptr_t>(NvBuffer);
  if (base + Size < base) return Fail(STATUS_INVALID_PARAMETER, "NvBuffer + Size overflows");
  PersistenceDomain domain{};
  try {
    if (NTSTATUS s = FindNvRegion(base, Size, &domain); !NT_SUCCESS(s)) return s;
  } catch (const std::bad_alloc&) {
    return Fail(STATUS_INSUFFICIENT_RESOURCES, "out of memory");
  }
  const uint8_t forced = g_dispatch.persistence_override.load(std::memory_order_relaxed);
  if (forced != 0) domain = static_cast<PersistenceDomain>(forced);
  return AllocateToken(base, Size, domain, NvToken);
}

extern "C" NVRTL_API NTSTATUS RtlFreeNonVolatileToken(PVOID NvToken) {
  using namespace nvrtl;
  std::vector<Finding> findings;
  try {
    if (NTSTATUS s = ReleaseToken(NvToken, &findings); !NT_SUCCESS(s)) return s;
    ReportFindings(NvToken, findings);
  } catch (const std::bad_alloc&) {
    // The token is released; only the report could not be made.
    return STATUS_SUCCESS;
  }
  return STATUS_SUCCESS;
}
