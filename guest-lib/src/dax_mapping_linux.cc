// dax_mapping_linux.cc -- RecogniseDaxMapping, RememberAsDaxForTesting.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "dax_mapping.h"
#include "last_error.h"
#include "persistence_domain.h"

namespace nvrtl {
namespace {

struct Vma {
  uintptr_t start = 0;
  uintptr_t end = 0;
  unsigned dev_major = 0;
  unsigned dev_minor = 0;
  uint64_t inode = 0;
  std::string path;
};

struct CachedDax {
  Vma vma;
  PersistenceDomain domain;
};

// The cache describes this process's address space: process-wide by nature.
std::mutex g_cache_mutex;
std::vector<CachedDax> g_cache;

// FindVma -- the /proc/self/maps entry holding `address`.
bool FindVma(uintptr_t address, Vma* vma) {
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return false;
  char* line = nullptr;
  size_t capacity = 0;
  bool found = false;
  while (getline(&line, &capacity, maps) > 0) {
    uintptr_t start = 0, end = 0;
    unsigned long long offset = 0, inode = 0;
    unsigned major = 0, minor = 0;
    char perms[8] = {};
    int consumed = 0;
    if (std::sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %x:%x %llu %n", &start, &end, perms,
                    &offset, &major, &minor, &inode, &consumed) < 7) {
      continue;
    }
    if (address < start || address >= end) continue;
    vma->start = start;
    vma->end = end;
    vma->dev_major = major;
    vma->dev_minor = minor;
    vma->inode = inode;
    std::string path = line + consumed;
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    vma->path = path;
    found = true;
    break;
  }
  std::free(line);
  (void)std::fclose(maps);
  return found;
}

// HasMapSync -- whether /proc/self/smaps shows VmFlags "sf" for the VMA starting at `start`.
bool HasMapSync(uintptr_t start) {
  FILE* smaps = std::fopen("/proc/self/smaps", "re");
  if (smaps == nullptr) return false;
  char* line = nullptr;
  size_t capacity = 0;
  bool in_vma = false;
  bool sync = false;
  while (getline(&line, &capacity, smaps) > 0) {
    uintptr_t s = 0, e = 0;
    char dash = 0;
    if (std::sscanf(line, "%" SCNxPTR "%c%" SCNxPTR, &s, &dash, &e) == 3 && dash == '-' &&
        std::strchr(line, ':') != nullptr && std::strncmp(line, "VmFlags", 7) != 0) {
      if (in_vma) break;  // past our VMA
      in_vma = s == start;
      continue;
    }
    if (in_vma && std::strncmp(line, "VmFlags:", 8) == 0) {
      for (char* flag = std::strtok(line + 8, " \n"); flag != nullptr;
           flag = std::strtok(nullptr, " \n")) {
        if (std::strcmp(flag, "sf") == 0) sync = true;
      }
      break;
    }
  }
  std::free(line);
  (void)std::fclose(smaps);
  return sync;
}

// Classify -- whether the VMA is devdax or MAP_SYNC, and its region's persistence domain.
bool Classify(const Vma& vma, PersistenceDomain* domain) {
  if (vma.inode == 0 || vma.path.empty() || vma.path[0] != '/') return false;
  struct stat st {};
  if (stat(vma.path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_ino == vma.inode) {
    if (!IsDevDax(major(st.st_rdev), minor(st.st_rdev))) return false;
    *domain = PersistenceDomainOf(DeviceClass::kChar, major(st.st_rdev), minor(st.st_rdev));
    return true;
  }
  if (!HasMapSync(vma.start)) return false;
  *domain = PersistenceDomainOf(DeviceClass::kBlock, vma.dev_major, vma.dev_minor);
  return true;
}

// StillMapped -- whether the cached VMA still maps the same file at the same place.
bool StillMapped(const Vma& vma) {
  char path[96];
  (void)std::snprintf(path, sizeof path, "/proc/self/map_files/%" PRIxPTR "-%" PRIxPTR, vma.start,
                      vma.end);
  struct stat st {};
  if (stat(path, &st) == 0) {
    return st.st_ino == vma.inode && major(st.st_dev) == vma.dev_major &&
           minor(st.st_dev) == vma.dev_minor;
  }
  if (errno != EPERM && errno != EACCES) return false;
  Vma now;
  return FindVma(vma.start, &now) && now.start == vma.start && now.end == vma.end &&
         now.inode == vma.inode && now.dev_major == vma.dev_major &&
         now.dev_minor == vma.dev_minor && now.path == vma.path;
}

}  // namespace

NTSTATUS RecogniseDaxMapping(uintptr_t start, size_t size, PersistenceDomain* domain) {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  for (auto it = g_cache.begin(); it != g_cache.end(); ++it) {
    if (start < it->vma.start || start >= it->vma.end) continue;
    if (StillMapped(it->vma)) {
      if (size > it->vma.end - start) {
        return Fail(STATUS_INVALID_PARAMETER, "range extends past the end of its DAX mapping");
      }
      *domain = it->domain;
      return STATUS_SUCCESS;
    }
    g_cache.erase(it);
    break;
  }
  Vma vma;
  if (!FindVma(start, &vma)) {
    return Fail(STATUS_INVALID_PARAMETER, "NvBuffer is not mapped");
  }
  PersistenceDomain found{};
  if (!Classify(vma, &found)) {
    return Fail(STATUS_INVALID_PARAMETER,
                "NvBuffer is not NV memory: not devdax, not a MAP_SYNC DAX file mapping, not "
                "registered with NvRegisterNonVolatileRange");
  }
  g_cache.push_back({vma, found});
  if (size > vma.end - start) {
    return Fail(STATUS_INVALID_PARAMETER, "range extends past the end of its DAX mapping");
  }
  *domain = found;
  return STATUS_SUCCESS;
}

bool RememberAsDaxForTesting(uintptr_t address) {
  Vma vma;
  if (!FindVma(address, &vma) || vma.inode == 0) return false;
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  g_cache.push_back({vma, PersistenceDomain::kMemoryController});
  return true;
}

}  // namespace nvrtl
