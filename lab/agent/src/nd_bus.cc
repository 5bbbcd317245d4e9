// nd_bus.cc -- libnvdimm's sysfs interface, as ndctl uses it for label-less namespaces.

#include "nvlab/agent/nd_bus.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "nvlab/agent/device_wait.h"
#include "nvlab/agent/sysfs_file.h"
#include "nvlab/hex.h"

namespace nvlab::agent {
namespace {

// The info block of a pfn, dax or btt claim lies at 4 KiB; ndctl zeroes the first 8 KiB.
constexpr size_t kInfoBlockBytes = 8192;

// NumberAfter returns the decimal number that follows prefix in name ("region12" -> 12), or
// -1 when name is not prefix followed by digits alone.
int NumberAfter(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || name.size() == prefix.size() ||
      name.size() - prefix.size() > 6) {
    return -1;
  }
  int value = 0;
  for (const char c : name.substr(prefix.size())) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

const char* ToString(NamespaceMode mode) {
  switch (mode) {
    case NamespaceMode::kRaw:
      return "raw";
    case NamespaceMode::kFsdax:
      return "fsdax";
    case NamespaceMode::kDevdax:
      return "devdax";
    case NamespaceMode::kSector:
      return "sector";
  }
  return "raw";
}

std::optional<NamespaceMode> ParseNamespaceMode(std::string_view text) {
  if (text == "raw") return NamespaceMode::kRaw;
  if (text == "memory" || text == "fsdax") return NamespaceMode::kFsdax;
  if (text == "dax" || text == "devdax") return NamespaceMode::kDevdax;
  if (text == "safe" || text == "sector") return NamespaceMode::kSector;
  return std::nullopt;
}

std::string FormatUuid(const unsigned char (&bytes)[16]) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 0xf];
  }
  return text;
}

NdBus::NdBus(std::string sysfs_root, std::string dev_root)
    : bus_dir_(std::move(sysfs_root) + "/bus/nd"), dev_root_(std::move(dev_root)) {}

std::string NdBus::Device(const std::string& name) const {
  return bus_dir_ + "/devices/" + name;
}

Status NdBus::WaitForProbes() const {
  for (const std::string& name : ListDirectory(bus_dir_ + "/devices")) {
    if (NumberAfter(name, "ndbus") < 0) continue;
    std::string ignored;
    NVLAB_RETURN_IF_ERROR(ReadSysfsFile(Device(name) + "/wait_probe", &ignored));
  }
  return Status::Ok();
}

std::vector<int> NdBus::PmemRegions() const {
  std::vector<int> regions;
  for (const std::string& name : ListDirectory(bus_dir_ + "/devices")) {
    const int region = NumberAfter(name, "region");
    if (region >= 0 && PathExists(Device(name) + "/namespace_seed")) regions.push_back(region);
  }
  std::sort(regions.begin(), regions.end());
  return regions;
}

Status NdBus::ReadMode(const std::string& ns, NamespaceMode* mode) const {
  std::string text;
  NVLAB_RETURN_IF_ERROR(ReadSysfsFile(Device(ns) + "/mode", &text));
  const auto parsed = ParseNamespaceMode(text);
  if (!parsed) return Status::NotSupported(ns + " has the unknown mode \"" + text + "\"");
  *mode = *parsed;
  return Status::Ok();
}

std::string NdBus::Holder(const std::string& ns) const {
  std::string text;
  if (!ReadSysfsFile(Device(ns) + "/holder", &text).ok()) return "";
  return text;
}

void NdBus::SetHolderClass(const std::string& ns, std::string_view holder_class) const {
  // Opportunistic, as in ndctl: the class is recorded in namespace labels, and a label-less
  // namespace (QEMU's NVDIMMs have no label area unless given one) refuses it with ENXIO.
  (void)WriteSysfsFile(Device(ns) + "/holder_class", holder_class);
}

bool NdBus::Exists(const std::string& name) const {
  return PathExists(Device(name));
}

bool NdBus::Bound(const std::string& device) const {
  return PathExists(Device(device) + "/driver");
}

Status NdBus::Unbind(const std::string& device) const {
  if (!Bound(device)) return Status::Ok();
  NVLAB_RETURN_IF_ERROR(WriteSysfsFile(Device(device) + "/driver/unbind", device));
  if (Bound(device)) return Status::FailedPrecondition(device + " is still in use after unbind");
  return Status::Ok();
}

Status NdBus::Bind(const std::string& device) const {
  // drivers_probe attaches whichever driver of the bus matches the device: nd_pmem for a
  // namespace or a pfn claim, dax_pmem for a dax claim.
  const Status s = WriteSysfsFile(bus_dir_ + "/drivers_probe", device);
  if (!s.ok() || !Bound(device)) {
    return Status::IoError(device + " did not come up (the guest console has the kernel's reason" +
                           (s.ok() ? std::string(")") : "; " + s.message() + ")"));
  }
  return Status::Ok();
}

std::string NdBus::BlockDevice(const std::string& device) const {
  for (const std::string& name : ListDirectory(Device(device) + "/block")) {
    // pmemN, or pmemNs for a btt claim.
    if (name.starts_with("pmem")) return dev_root_ + "/" + name;
  }
  return "";
}

std::string NdBus::DaxDevice(const std::string& nd_dax) const {
  // The device-dax device is a child of its nd dax claim: <claim>/daxN.M.
  for (const std::string& name : ListDirectory(Device(nd_dax))) {
    const size_t dot = name.find('.');
    if (dot == std::string::npos || NumberAfter(name.substr(0, dot), "dax") < 0 ||
        NumberAfter(name.substr(dot), ".") < 0) {
      continue;
    }
    return dev_root_ + "/" + name;
  }
  return "";
}

Status NdBus::ZeroInfoBlock(const std::string& ns) const {
  // A namespace already enabled raw is read where it is; otherwise it is enabled raw (no claim
  // probed) for the purpose, as ndctl does.
  const bool was_bound = Bound(ns);
  Status s;
  if (!was_bound) {
    NVLAB_RETURN_IF_ERROR(WriteSysfsFile(Device(ns) + "/force_raw", "1"));
    s = Bind(ns);
  }
  std::string block;
  if (s.ok()) {
    s = WaitFor([&] { return !(block = BlockDevice(ns)).empty() && PathExists(block); },
                ns + "'s block device");
  }
  if (s.ok()) {
    // O_EXCL: refused while anything has the device open or mounted.
    const int fd = open(block.c_str(), O_RDWR | O_EXCL | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
      s = Status::IoErrorFromErrno("open " + block, errno);
    } else {
      // O_DIRECT wants a block-aligned buffer.
      void* raw = nullptr;
      if (posix_memalign(&raw, 4096, kInfoBlockBytes) != 0) {
        s = Status::IoError("out of memory");
      } else {
        std::unique_ptr<void, decltype(&std::free)> buf(raw, &std::free);
        const ssize_t n = pread(fd, buf.get(), kInfoBlockBytes, 0);
        const auto* bytes = static_cast<const unsigned char*>(buf.get());
        const bool zero =
            n == static_cast<ssize_t>(kInfoBlockBytes) &&
            std::all_of(bytes, bytes + kInfoBlockBytes, [](unsigned char b) { return b == 0; });
        if (!zero) {
          std::memset(buf.get(), 0, kInfoBlockBytes);
          if (pwrite(fd, buf.get(), kInfoBlockBytes, 0) != static_cast<ssize_t>(kInfoBlockBytes)) {
            s = Status::IoErrorFromErrno("zero the info block of " + block, errno);
          } else if (fsync(fd) != 0) {
            s = Status::IoErrorFromErrno("fsync " + block, errno);
          }
        }
      }
      close(fd);
    }
  }
  const Status unbound = Unbind(ns);
  if (!was_bound) {
    const Status cleared = WriteSysfsFile(Device(ns) + "/force_raw", "0");
    if (s.ok()) s = cleared;
  }
  return s.ok() ? unbound : s;
}

Status NdBus::Reconfigure(int region, const std::string& ns, NamespaceMode mode,
                          const std::string& uuid) const {
  if (mode == NamespaceMode::kSector)
    return Status::NotSupported("nvlab makes no sector namespace");
  // Release: the claim first (it holds the namespace), then the namespace.
  if (const std::string holder = Holder(ns); !holder.empty()) {
    NVLAB_RETURN_IF_ERROR(Unbind(holder));
    NVLAB_RETURN_IF_ERROR(WriteSysfsFile(Device(holder) + "/namespace", "\n"));
  }
  // A raw namespace stays bound while its info block is checked: it is read in place.
  if (Bound(ns)) {
    NamespaceMode current = NamespaceMode::kRaw;
    NVLAB_RETURN_IF_ERROR(ReadMode(ns, &current));
    if (current != NamespaceMode::kRaw) NVLAB_RETURN_IF_ERROR(Unbind(ns));
  }
  NVLAB_RETURN_IF_ERROR(ZeroInfoBlock(ns));
  if (mode != NamespaceMode::kRaw) return ConfigureClaim(region, ns, mode, uuid);
  SetHolderClass(ns, "\n");  // "\n": the empty class (sysfs ignores the newline), no claim
  return Bind(ns);
}

Status NdBus::ConfigureClaim(int region, const std::string& ns, NamespaceMode mode,
                             const std::string& uuid) const {
  std::string claim;
  NVLAB_RETURN_IF_ERROR(AttachClaim(region, ns, mode, uuid, &claim));
  return BindClaim(claim);
}

Status NdBus::AttachClaim(int region, const std::string& ns, NamespaceMode mode,
                          const std::string& uuid, std::string* claim) const {
  const bool pfn = mode == NamespaceMode::kFsdax;
  const std::string region_dir = Device("region" + std::to_string(region));
  SetHolderClass(ns, pfn ? "pfn" : "dax");
  std::string seed;
  NVLAB_RETURN_IF_ERROR(ReadSysfsFile(region_dir + (pfn ? "/pfn_seed" : "/dax_seed"), &seed));
  if (seed.empty() || seed.find('/') != std::string::npos) {
    return Status::NotSupported("region" + std::to_string(region) + " has no " +
                                (pfn ? "pfn" : "dax") + " seed device");
  }
  NVLAB_RETURN_IF_ERROR(WriteSysfsFile(Device(seed) + "/uuid", uuid));
  // -M mem: the memmap of the namespace's pages lives in RAM, not on the NVDIMM.
  NVLAB_RETURN_IF_ERROR(WriteSysfsFile(Device(seed) + "/mode", "ram"));
  // The seed's own alignment (2 MiB), unless the region does not start on it (ndctl's rule).
  std::string align_text;
  std::string resource_text;
  if (ReadSysfsFile(Device(seed) + "/align", &align_text).ok() &&
      ReadSysfsFile(region_dir + "/resource", &resource_text).ok()) {
    const unsigned long long align = std::strtoull(align_text.c_str(), nullptr, 0);
    const unsigned long long resource = std::strtoull(resource_text.c_str(), nullptr, 0);
    const auto page = static_cast<unsigned long long>(sysconf(_SC_PAGESIZE));
    if (align > page && resource % align != 0) {
      NVLAB_RETURN_IF_ERROR(WriteSysfsFile(Device(seed) + "/align", std::to_string(page)));
    }
  }
  NVLAB_RETURN_IF_ERROR(WriteSysfsFile(Device(seed) + "/namespace", ns));
  *claim = seed;
  return Status::Ok();
}

Status NdBus::BindClaim(const std::string& claim) const {
  if (Bound(claim)) return Status::Ok();
  Status bound = Bind(claim);
  if (!bound.ok()) (void)WriteSysfsFile(Device(claim) + "/namespace", "\n");  // as ndctl does
  return bound;
}

Status NdBus::ClaimBlank(int region, const std::string& ns, NamespaceMode mode,
                         const std::string& uuid, std::string* claim) const {
  if (mode != NamespaceMode::kFsdax && mode != NamespaceMode::kDevdax) {
    return Status::InvalidArgument(std::string("a blank namespace is claimed for fsdax or devdax, "
                                               "not ") +
                                   ToString(mode));
  }
  if (Bound(ns)) return Status::FailedPrecondition(ns + " is enabled already");
  NVLAB_RETURN_IF_ERROR(AttachClaim(region, ns, mode, uuid, claim));
  return mode == NamespaceMode::kDevdax ? BindClaim(*claim) : Status::Ok();
}

Status NdBus::RegionStart(int region, uint64_t* start) const {
  const std::string file = Device("region" + std::to_string(region)) + "/resource";
  std::string text;
  NVLAB_RETURN_IF_ERROR(ReadSysfsFile(file, &text));
  // The kernel writes "%#llx"; anything else is not a region's address.
  uint64_t value = 0;
  if (!text.starts_with("0x") || !ParseHexDigits(std::string_view(text).substr(2), &value)) {
    return Status::IoError(file + " reads \"" + text + "\", not an address");
  }
  *start = value;
  return Status::Ok();
}

}  // namespace nvlab::agent
