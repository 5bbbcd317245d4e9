// nv_range_registry.cc -- FindNvRegion, NvRegisterNonVolatileRange,
// NvUnregisterNonVolatileRange.
#include "nv_range_registry.h"

#include <mutex>
#include <vector>

#include "dax_mapping.h"
#include "last_error.h"

namespace nvrtl {
namespace {

struct Registered {
  uintptr_t base;
  size_t size;
};

// Declarations are process-wide: a token may be obtained from any thread.
std::mutex g_registry_mutex;
std::vector<Registered> g_registered;

}  // namespace

NTSTATUS FindNvRegion(uintptr_t start, size_t size, PersistenceDomain* domain) {
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    for (const Registered& r : g_registered) {
      if (start >= r.base && start - r.base < r.size) {
        if (size > r.size - (start - r.base)) {
          return Fail(STATUS_INVALID_PARAMETER, "range extends past its registered range");
        }
        // Registered memory has no sysfs region: ADR, the answer that keeps flushes.
        *domain = PersistenceDomain::kMemoryController;
        return STATUS_SUCCESS;
      }
    }
  }
  return RecogniseDaxMapping(start, size, domain);
}

}  // namespace nvrtl

extern "C" NVRTL_API NTSTATUS NvRegisterNonVolatileRange(PVOID Base, SIZE_T Size) {
  using namespace nvrtl;
  const auto base = reinterpret_cast<uintptr_t>(Base);
  if (Base == nullptr) return Fail(STATUS_INVALID_PARAMETER, "Base is NULL");
  if (Size == 0) return Fail(STATUS_INVALID_PARAMETER, "Size is 0");
  if (base + Size < base) return Fail(STATUS_INVALID_PARAMETER, "Base + Size overflows");
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  for (const Registered& r : g_registered) {
    if (base < r.base + r.size && r.base < base + Size) {
      return Fail(STATUS_INVALID_PARAMETER, "range overlaps a registered range");
    }
  }
  try {
    g_registered.push_back({base, Size});
  } catch (const std::bad_alloc&) {
    return Fail(STATUS_INSUFFICIENT_RESOURCES, "out of memory");
  }
  return STATUS_SUCCESS;
}

extern "C" NVRTL_API NTSTATUS NvUnregisterNonVolatileRange(PVOID Base) {
  using namespace nvrtl;
  const auto base = reinterpret_cast<uintptr_t>(Base);
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  for (auto it = g_registered.begin(); it != g_registered.end(); ++it) {
    if (it->base == base) {
      g_registered.erase(it);
      return STATUS_SUCCESS;
    }
  }
  return Fail(STATUS_INVALID_PARAMETER, "no registered range starts at Base");
}
