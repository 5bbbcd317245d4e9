// persistence_domain.h -- what Linux's sysfs says about NVDIMM devices.
//
// All paths are under the sysfs root: NVRTL_SYSFS_ROOT (tests point it at a fake tree) or /sys.
// Device links are resolved the way the kernel lays them out:
//   <root>/dev/char/M:m  -> .../ndbusN/regionR/daxR.K/dax/daxR.K   (devdax)
//   <root>/dev/block/M:m -> .../ndbusN/regionR/namespaceR.K/block/pmemR   (fsdax's pmem disk)
// and the first ancestor holding a persistence_domain file is the region.
// Thread-safety: stateless; each call reads the files anew (Get-time only).
#ifndef NVRTL_SRC_PERSISTENCE_DOMAIN_H_
#define NVRTL_SRC_PERSISTENCE_DOMAIN_H_

#include <cstdint>
#include <string>

#include "dispatch.h"

namespace nvrtl {

// DeviceClass -- which /sys/dev folder a device number belongs to.
enum class DeviceClass { kChar, kBlock };

// SysfsRoot -- NVRTL_SYSFS_ROOT, else "/sys".
std::string SysfsRoot();

// DevicePath -- "<root>/dev/char/M:m" or "<root>/dev/block/M:m".
std::string DevicePath(DeviceClass cls, unsigned major, unsigned minor);

// PersistenceDomainOf -- the persistence domain of the region above the device:
// "cpu_cache" -> kCpuCache; "memory_controller", anything else or nothing found ->
// kMemoryController (the safe answer: flushes execute).
PersistenceDomain PersistenceDomainOf(DeviceClass cls, unsigned major, unsigned minor);

// IsDevDax -- true when the character device's sysfs subsystem is "dax".
bool IsDevDax(unsigned major, unsigned minor);

// ReadSysfsNumber -- the unsigned number in <device path>/<attribute>, or false.
bool ReadSysfsNumber(DeviceClass cls, unsigned major, unsigned minor, const char* attribute,
                     uint64_t* value);

}  // namespace nvrtl

#endif  // NVRTL_SRC_PERSISTENCE_DOMAIN_H_
