// File: nvlab/agent/nvdimm_mounts.h
//
// Taking the NVDIMMs' file systems down and up again while the guest runs, for crash-state
// exploration (docs/design/exploration.md): the host writes a crash state's image into an
// NVDIMM's backing file between two checks, and the guest must then read it as a machine that
// just booted on it would. So before the host writes, the agent unmounts the file systems on the
// NVDIMMs (their in-memory state describes the last image) and drops the cached blocks of every
// NVDIMM block device (a mount reads its superblock through them); after, it mounts them again.
// Devdax NVDIMMs need neither: programs map them directly.
//
// Thread-safety: plain functions; the agent calls them from its only thread.

#ifndef NVLAB_AGENT_NVDIMM_MOUNTS_H_
#define NVLAB_AGENT_NVDIMM_MOUNTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::agent {

// NvdimmMount is a file system mounted from an NVDIMM's block device.
struct NvdimmMount {
  std::string device;       // /dev/pmem<N>
  std::string mount_point;  // where it is mounted
  std::string type;         // ext4, xfs
  bool operator==(const NvdimmMount&) const = default;
};

// ParseNvdimmMounts returns the mounts of /dev/pmem* devices in a /proc/mounts text, in its order
// (mount points with escaped characters, \040 and the like, are skipped: nvlab mounts at
// /mnt/pmem<N>).
std::vector<NvdimmMount> ParseNvdimmMounts(std::string_view proc_mounts);

// DetachNvdimms unmounts every NVDIMM file system (last mounted first) and appends it to
// *detached, then drops the cached blocks of every /dev/pmem* device (BLKFLSBUF). Already
// detached: only the second step.
Status DetachNvdimms(std::vector<NvdimmMount>* detached);

// AttachNvdimms mounts each of `mounts` again with -o dax, in order; on success *mounts is
// emptied. The error of a mount that fails names the device and the kernel's reason; the
// mounts not yet made stay in *mounts.
Status AttachNvdimms(std::vector<NvdimmMount>* mounts);

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_NVDIMM_MOUNTS_H_
