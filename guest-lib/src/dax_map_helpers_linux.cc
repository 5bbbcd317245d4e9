// dax_map_helpers_linux.cc -- NvMapDaxDevice, NvMapDaxFile, NvUnmapNonVolatileMemory.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "last_error.h"
#include "persistence_domain.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

namespace nvrtl {
namespace {

// MapAligned -- maps fd's [0, size) shared at an address aligned to `align` (devdax refuses
// misaligned mappings): reserve size+align, then map over the aligned part and trim.
void* MapAligned(int fd, size_t size, size_t align, int flags) {
  if (align < 4096) align = 4096;
  void* reserve = mmap(nullptr, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (reserve == MAP_FAILED) return MAP_FAILED;
  auto* const first = static_cast<char*>(reserve);
  const auto misalign = reinterpret_cast<uintptr_t>(first) & (uintptr_t{align} - 1);
  char* const aligned = first + (misalign == 0 ? 0 : align - misalign);
  void* mapped = mmap(aligned, size, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);
  const int saved = errno;
  if (mapped == MAP_FAILED) {
    munmap(reserve, size + align);
    errno = saved;
    return MAP_FAILED;
  }
  if (aligned > first) munmap(first, static_cast<size_t>(aligned - first));
  char* const tail = aligned + size;
  char* const reserve_end = first + size + align;
  if (reserve_end > tail) munmap(tail, static_cast<size_t>(reserve_end - tail));
  return mapped;
}

}  // namespace
}  // namespace nvrtl

extern "C" NVRTL_API NTSTATUS NvMapDaxDevice(const char* Path, PVOID* Base, SIZE_T* Size) {
  using namespace nvrtl;
  if (Path == nullptr || Base == nullptr || Size == nullptr) {
    return Fail(STATUS_INVALID_PARAMETER, "Path, Base and Size must not be NULL");
  }
  struct stat st {};
  if (stat(Path, &st) != 0) {
    return FailFormatted(STATUS_ACCESS_DENIED, "%s: %s", Path, std::strerror(errno));
  }
  if (!S_ISCHR(st.st_mode) || !IsDevDax(major(st.st_rdev), minor(st.st_rdev))) {
    return FailFormatted(STATUS_INVALID_PARAMETER, "%s is not a devdax character device", Path);
  }
  uint64_t size = 0, align = 0;
  if (!ReadSysfsNumber(DeviceClass::kChar, major(st.st_rdev), minor(st.st_rdev), "size", &size) ||
      size == 0) {
    return FailFormatted(STATUS_INVALID_PARAMETER, "%s: no size in sysfs", Path);
  }
  if (!ReadSysfsNumber(DeviceClass::kChar, major(st.st_rdev), minor(st.st_rdev), "align", &align)) {
    align = 2u << 20;  // the devdax default
  }
  const int fd = open(Path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return FailFormatted(STATUS_ACCESS_DENIED, "%s: %s", Path, std::strerror(errno));
  void* mapped = MapAligned(fd, size, align, MAP_SHARED);
  const int saved = errno;
  close(fd);
  if (mapped == MAP_FAILED) {
    return FailFormatted(STATUS_ACCESS_DENIED, "mmap %s: %s", Path, std::strerror(saved));
  }
  *Base = mapped;
  *Size = size;
  return STATUS_SUCCESS;
}

extern "C" NVRTL_API NTSTATUS NvMapDaxFile(const char* Path, SIZE_T Size, PVOID* Base) {
  using namespace nvrtl;
  if (Path == nullptr || Base == nullptr || Size == 0) {
    return Fail(STATUS_INVALID_PARAMETER, "Path and Base must not be NULL, Size not 0");
  }
  const int fd = open(Path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return FailFormatted(STATUS_ACCESS_DENIED, "%s: %s", Path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 ||
      (static_cast<uint64_t>(st.st_size) < Size && ftruncate(fd, static_cast<off_t>(Size)) != 0)) {
    const int saved = errno;
    close(fd);
    return FailFormatted(STATUS_ACCESS_DENIED, "cannot size %s: %s", Path, std::strerror(saved));
  }
  void* mapped = MapAligned(fd, Size, 2u << 20, MAP_SHARED_VALIDATE | MAP_SYNC);
  const int saved = errno;
  close(fd);
  if (mapped == MAP_FAILED) {
    if (saved == EOPNOTSUPP || saved == EINVAL) {
      return FailFormatted(STATUS_NOT_SUPPORTED,
                           "%s: the kernel refused MAP_SYNC (%s): the file system is not mounted "
                           "with -o dax, or the device (virtio-pmem) cannot promise it",
                           Path, std::strerror(saved));
    }
    return FailFormatted(STATUS_ACCESS_DENIED, "mmap %s: %s", Path, std::strerror(saved));
  }
  *Base = mapped;
  return STATUS_SUCCESS;
}

extern "C" NVRTL_API NTSTATUS NvUnmapNonVolatileMemory(PVOID Base, SIZE_T Size) {
  using namespace nvrtl;
  if (Base == nullptr || Size == 0) return Fail(STATUS_INVALID_PARAMETER, "Base NULL or Size 0");
  if (munmap(Base, Size) != 0) {
    return FailFormatted(STATUS_INVALID_PARAMETER, "munmap: %s", std::strerror(errno));
  }
  return STATUS_SUCCESS;
}
