// File: nvlab/agent/nvdimm_setup.h
//
// PrepareNvdimms sets a guest's NVDIMMs up the way nvlab's commands find them
// (docs/design/nvdimm-setup.md): it loads the drivers, waits for every region, gives each
// region's namespace the wanted mode (re-created only when it has another mode, so the boot
// after a power cut finds the previous boot's data), makes a file system where fsdax has none,
// mounts it with -o dax, mounts the host's share, and writes the NVLAB_PMEM variables to
// /run/nvlab/env. The agent runs it on a resume request; init runs it through
// `nvlab-agent prepare-nvdimms` when it boots a guest by itself (a libvirt domain).
//
// Progress goes to stdout, the guest console, as "nvlab-init: <step>" lines (a host that times
// out shows where the setup stopped); it ends with "nvlab-init: ready NVLAB_PMEM=<path>".
// Boot-phase uptimes go to /run/nvlab/timing (nvlab/agent/boot_timing.h).
//
// Thread-safety: runs once, in the agent's only thread.

#ifndef NVLAB_AGENT_NVDIMM_SETUP_H_
#define NVLAB_AGENT_NVDIMM_SETUP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/agent/nd_bus.h"
#include "nvlab/status.h"

namespace nvlab::agent {

// Where the setup leaves the NVDIMM environment: KEY=VALUE lines.
inline constexpr const char* kNvdimmEnvironmentFile = "/run/nvlab/env";

struct NvdimmSettings {
  NamespaceMode mode = NamespaceMode::kDevdax;  // never kSector
  std::string fs = "ext4";                      // "ext4" or "xfs", for kFsdax
  int nvdimms = 1;                              // regions to wait for, 1-64
  bool share = false;                           // mount the 9p tag nvlab_share at /host
  // Guest-physical starts of the NVDIMMs the host found blank (the resume request's `blank`):
  // with fsdax or devdax, their claims are made before nd_pmem is loaded, so it never enables
  // them raw (docs/design/nvdimm-setup.md, "Blank NVDIMMs"). Empty for init's own setup.
  std::vector<uint64_t> blank;
};

// ParseNvdimmSettings reads the settings as the command line and the resume request spell
// them: ns "devdax|fsdax|raw", fs "ext4|xfs", nvdimms "1".."64", share "0|1".
Status ParseNvdimmSettings(std::string_view ns, std::string_view fs, std::string_view nvdimms,
                           std::string_view share, NvdimmSettings* settings);

// NvdimmEnvironment returns the environment file's text for the NVDIMMs' paths, in region
// order: NVLAB_PMEM<i>=<path> for each, then NVLAB_PMEM=<first> and NVLAB_PMEM_ALL=<all,
// space-separated>.
std::string NvdimmEnvironment(const std::vector<std::string>& paths);

// PreloadNvdimmDrivers loads, ahead of PrepareNvdimms, the drivers it needs that read nothing
// on an NVDIMM by being loaded: libnvdimm, nd_btt, dax_pmem, device_dax, ext4, and with_nfit
// nfit, which finds the NVDIMMs and their regions from the ACPI table (and reads their label
// areas: so only for NVDIMMs without one). nd_pmem, which reads each namespace's info block,
// is left to PrepareNvdimms, as is xfs (rarely used). The agent preloads at the template stage,
// so that no warm start pays for it again: 0.6-0.8 s under TCG, libnvdimm and nfit most.
Status PreloadNvdimmDrivers(bool with_nfit);

// PrepareNvdimms does the whole setup and writes kNvdimmEnvironmentFile. On failure it has
// printed "nvlab-init: error: <what>" and returns the same as a Status.
Status PrepareNvdimms(const NvdimmSettings& settings);

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_NVDIMM_SETUP_H_
