// dax_mapping.h -- recognising devdax and MAP_SYNC mappings in this process.
//
// First call for an address: /proc/self/maps gives the mapping (VMA) holding it, its backing
// device and inode; a devdax mapping is one of a character device whose sysfs subsystem is dax,
// an fsdax mapping is one whose /proc/self/smaps VmFlags include "sf" (MAP_SYNC). The answer is
// cached per VMA with the backing file's dev/ino. Later calls revalidate a cache hit with one
// stat("/proc/self/map_files/<start>-<end>"), which fails for a vanished or anonymous mapping
// and shows a different dev/ino for another file mapped at the same place. Where map_files is
// not permitted (non-root on kernels that require CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE), a hit is
// revalidated by re-reading /proc/self/maps. Known limit: the same file remapped at the same
// address without MAP_SYNC keeps the cached answer. Thread-safety: a mutex (Get-time only).
#ifndef NVRTL_SRC_DAX_MAPPING_H_
#define NVRTL_SRC_DAX_MAPPING_H_

#include <cstddef>
#include <cstdint>

#include "dispatch.h"
#include "nvrtl/nvrtl.h"

namespace nvrtl {

// RecogniseDaxMapping -- STATUS_SUCCESS and *domain when [start, start+size) lies inside one
// devdax or MAP_SYNC mapping; STATUS_INVALID_PARAMETER otherwise.
NTSTATUS RecogniseDaxMapping(uintptr_t start, size_t size, PersistenceDomain* domain);

// RememberAsDaxForTesting -- caches the file mapping holding `address` as if it were DAX, so
// tests on hosts without NVDIMMs can check the cache's revalidation. False if not file-backed.
bool RememberAsDaxForTesting(uintptr_t address);

}  // namespace nvrtl

#endif  // NVRTL_SRC_DAX_MAPPING_H_
