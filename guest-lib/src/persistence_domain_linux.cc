// persistence_domain_linux.cc -- SysfsRoot, DevicePath, PersistenceDomainOf, IsDevDax,
// ReadSysfsNumber; and NvQueryPersistenceDomain.
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "argument_checks.h"
#include "persistence_domain.h"

namespace nvrtl {
namespace {

// ReadFirstLine -- the file's first line without its newline, or "" if unreadable.
std::string ReadFirstLine(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) return "";
  char buffer[256] = {};
  if (std::fgets(buffer, sizeof buffer, file) == nullptr) buffer[0] = '\0';
  (void)std::fclose(file);
  buffer[std::strcspn(buffer, "\n")] = '\0';
  return buffer;
}

std::string Resolve(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return "";
  return resolved;
}

}  // namespace

std::string SysfsRoot() {
  const char* root = std::getenv("NVRTL_SYSFS_ROOT");
  return root != nullptr && *root != '\0' ? std::string(root) : std::string("/sys");
}

std::string DevicePath(DeviceClass cls, unsigned major, unsigned minor) {
  return SysfsRoot() + (cls == DeviceClass::kChar ? "/dev/char/" : "/dev/block/") +
         std::to_string(major) + ":" + std::to_string(minor);
}

PersistenceDomain PersistenceDomainOf(DeviceClass cls, unsigned major, unsigned minor) {
  const std::string root = Resolve(SysfsRoot());
  std::string dir = Resolve(DevicePath(cls, major, minor));
  if (root.empty()) return PersistenceDomain::kMemoryController;
  while (dir.size() > root.size() && dir.compare(0, root.size(), root) == 0) {
    const std::string value = ReadFirstLine(dir + "/persistence_domain");
    if (value == "cpu_cache") return PersistenceDomain::kCpuCache;
    if (!value.empty()) return PersistenceDomain::kMemoryController;
    dir.erase(dir.find_last_of('/'));
  }
  return PersistenceDomain::kMemoryController;
}

bool IsDevDax(unsigned major, unsigned minor) {
  const std::string subsystem =
      Resolve(DevicePath(DeviceClass::kChar, major, minor) + "/subsystem");
  const size_t slash = subsystem.find_last_of('/');
  return slash != std::string::npos && subsystem.compare(slash + 1, std::string::npos, "dax") == 0;
}

bool ReadSysfsNumber(DeviceClass cls, unsigned major, unsigned minor, const char* attribute,
                     uint64_t* value) {
  const std::string text = ReadFirstLine(DevicePath(cls, major, minor) + "/" + attribute);
  if (text.empty()) return false;
  char* end = nullptr;
  *value = std::strtoull(text.c_str(), &end, 0);
  return end != nullptr && *end == '\0';
}

}  // namespace nvrtl

extern "C" NVRTL_API NTSTATUS NvQueryPersistenceDomain(PVOID NvToken, ULONG* Domain) {
  using namespace nvrtl;
  TokenView view;
  if (NTSTATUS s = CheckToken(NvToken, &view); !NT_SUCCESS(s)) return s;
  if (Domain == nullptr) return Fail(STATUS_INVALID_PARAMETER, "Domain is NULL");
  *Domain = view.domain == PersistenceDomain::kCpuCache ? NV_PERSISTENCE_DOMAIN_CPU_CACHE
                                                        : NV_PERSISTENCE_DOMAIN_MEMORY_CONTROLLER;
  return STATUS_SUCCESS;
}
