// nv_range_registry.h -- the ranges a program declared as NV memory, and the lookup Get uses.
//
// NvRegisterNonVolatileRange / NvUnregisterNonVolatileRange maintain a list of non-overlapping
// ranges; FindNvRegion answers from it first and then asks dax_mapping.h. Thread-safety: a mutex
// (Get-time and set-up calls only).
#ifndef NVRTL_SRC_NV_RANGE_REGISTRY_H_
#define NVRTL_SRC_NV_RANGE_REGISTRY_H_

#include <cstddef>
#include <cstdint>

#include "dispatch.h"
#include "nvrtl/nvrtl.h"

namespace nvrtl {

// FindNvRegion -- STATUS_SUCCESS and *domain when [start, start+size) lies inside one registered
// range or one DAX mapping; else STATUS_INVALID_PARAMETER (with the reason recorded).
NTSTATUS FindNvRegion(uintptr_t start, size_t size, PersistenceDomain* domain);

}  // namespace nvrtl

#endif  // NVRTL_SRC_NV_RANGE_REGISTRY_H_
