// File: nvlab/agent/nd_bus.h
//
// NdBus drives the kernel's NVDIMM subsystem (libnvdimm) through sysfs, /sys/bus/nd: it lists
// the persistent-memory regions, reads what each namespace is used as, and re-creates a
// namespace in another mode. It does what `ndctl create-namespace -f -e NS -m MODE -M mem`
// does for the label-less NVDIMMs QEMU emulates (docs/design/nvdimm-setup.md), in a few sysfs
// writes instead of a dynamically linked program, which under TCG costs a third of a second.
//
// The sequence, as ndctl's: release the namespace (unbind its claim, a pfn or dax device, clear
// the claim's namespace, unbind the namespace); zero its first 8 KiB (the info block where a
// pfn, dax or btt claim is recorded) through the raw block device, so the kernel cannot find an
// old claim again; then either enable it raw, or configure the region's pfn (fsdax) or dax
// (devdax) seed device (a fresh UUID, its memmap in RAM, the namespace) and bind it, which
// makes the kernel write a new info block.
//
// A namespace the host found blank (its first 8 KiB zero) skips the release and the zeroing:
// ClaimBlank configures its claim before nd_pmem, the driver that would first enable it raw
// (a block device the claim then tears down again), is loaded.
//
// Life cycle: one NdBus per setup; it holds only the paths. Thread-safety: none needed (the
// agent is single-threaded).

#ifndef NVLAB_AGENT_ND_BUS_H_
#define NVLAB_AGENT_ND_BUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::agent {

// NamespaceMode is what a namespace is used as, by ndctl's names.
enum class NamespaceMode {
  kRaw,     // the whole NVDIMM as /dev/pmemN, no info block
  kFsdax,   // a pfn claim: /dev/pmemN for a DAX file system
  kDevdax,  // a dax claim: the character device /dev/daxN.M
  kSector,  // a btt claim (nvlab never makes one; a guest's own ndctl might)
};

// ToString gives ndctl's name: "raw", "fsdax", "devdax", "sector".
const char* ToString(NamespaceMode mode);

// ParseNamespaceMode reads a namespace's sysfs "mode" value: "raw"; "memory" or "fsdax";
// "dax" or "devdax"; "safe" or "sector" (kernels have used both names). Others: nullopt.
std::optional<NamespaceMode> ParseNamespaceMode(std::string_view text);

// FormatUuid formats 16 bytes as the kernel reads a UUID: 8-4-4-4-12 lowercase hex digits.
std::string FormatUuid(const unsigned char (&bytes)[16]);

class NdBus {
 public:
  // sysfs_root and dev_root are "/sys" and "/dev" in a guest; tests point them at a folder.
  explicit NdBus(std::string sysfs_root = "/sys", std::string dev_root = "/dev");

  // WaitForProbes returns once the kernel has finished the probing it started on every NVDIMM
  // bus (regions, namespaces, and the claims it found in their info blocks), by reading each
  // bus's wait_probe. Before that, a namespace's mode may read raw while its claim is still
  // being probed: re-creating it then would destroy the data of the previous boot.
  Status WaitForProbes() const;

  // PmemRegions returns the numbers N of the regions "regionN" that can hold a pmem
  // namespace (those with a namespace_seed), ascending.
  std::vector<int> PmemRegions() const;

  // Exists says whether the bus has a device of that name ("namespace0.0").
  bool Exists(const std::string& name) const;

  // ReadMode reads the mode of namespace `ns` ("namespace0.0").
  Status ReadMode(const std::string& ns, NamespaceMode* mode) const;

  // Holder returns the name of the device that claims `ns` ("pfn0.1", "dax0.0"), or "".
  std::string Holder(const std::string& ns) const;

  // Reconfigure makes `ns`, of region `region`, a namespace of `mode` (not kSector), with
  // `uuid` (FormatUuid) for a pfn or dax claim. Whatever the namespace held is lost.
  Status Reconfigure(int region, const std::string& ns, NamespaceMode mode,
                     const std::string& uuid) const;

  // RegionStart reads where region `region` starts in guest-physical memory (its `resource`).
  Status RegionStart(int region, uint64_t* start) const;

  // ClaimBlank gives namespace `ns` of region `region` a pfn (kFsdax) or dax (kDevdax) claim
  // with `uuid`, as Reconfigure does, but without enabling the namespace raw first: the host
  // found its first 8 KiB zero, so there is no old claim to find or info block to zero. `ns`
  // must not be enabled (FailedPrecondition): nd_pmem is loaded after it. A dax claim is bound
  // at once (by dax_pmem); a pfn claim only has a driver once nd_pmem is loaded, which binds
  // it, and BindClaim then checks. *claim names the claim ("pfn0.1", "dax0.1").
  Status ClaimBlank(int region, const std::string& ns, NamespaceMode mode, const std::string& uuid,
                    std::string* claim) const;

  // BindClaim binds a claim ClaimBlank configured, unless it is bound already. A claim that does
  // not come up is detached from its namespace again (as ndctl does) and named in the error.
  Status BindClaim(const std::string& claim) const;

  // BlockDevice returns the block device of `device` (a raw namespace or a pfn claim) as
  // "/dev/pmemN", or "" when it has none (yet).
  std::string BlockDevice(const std::string& device) const;

  // DaxDevice returns the character device of a dax claim `nd_dax` ("dax0.0") as
  // "/dev/daxN.M", or "" when it has none (yet).
  std::string DaxDevice(const std::string& nd_dax) const;

 private:
  std::string Device(const std::string& name) const;
  bool Bound(const std::string& device) const;
  Status Unbind(const std::string& device) const;
  Status Bind(const std::string& device) const;
  void SetHolderClass(const std::string& ns, std::string_view holder_class) const;
  Status ZeroInfoBlock(const std::string& ns) const;
  Status ConfigureClaim(int region, const std::string& ns, NamespaceMode mode,
                        const std::string& uuid) const;
  Status AttachClaim(int region, const std::string& ns, NamespaceMode mode, const std::string& uuid,
                     std::string* claim) const;

  std::string bus_dir_;  // <sysfs>/bus/nd
  std::string dev_root_;
};

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_ND_BUS_H_
