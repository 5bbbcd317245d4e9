// File: nvlab/lab_config.h
//
// LabConfig is what shapes the guests a Lab boots: the lab options of the nvlab command
// (docs/design/interfaces.md, "The lab options") that an SDK user sets, with the same defaults,
// and where nvlab is installed. Part of the SDK (nvlab::nvlab, docs/design/sdk.md).
//
// Thread-safety: a plain value.

#ifndef NVLAB_SDK_LAB_CONFIG_H_
#define NVLAB_SDK_LAB_CONFIG_H_

#include <filesystem>
#include <string>
#include <vector>

#include "nvlab/status.h"

namespace nvlab {

// LabPersistence is the platform's persistence domain.
enum class LabPersistence {
  kMachine,  // the machine definition's (the default machine: ADR)
  kAdr,      // flushed and fenced lines survive a cut; the CPU caches do not
  kEadr,     // the CPU caches are in the persistence domain too
};

struct LabConfig {
  // prefix: the nvlab install prefix (PREFIX/libexec/nvlab/nvlab-plugin.so, PREFIX/share/nvlab/
  // machines/, ...). Empty: found as docs/design/sdk.md says (NVLAB_PREFIX, then the prefix of the
  // installed CMake package the program was built against, then `nvlab` on PATH).
  std::filesystem::path prefix;
  // machine: a machine name (PREFIX/share/nvlab/machines/NAME.machine) or a machine file.
  std::string machine = "default";
  // share_dir: a host folder the guest sees at /host (9p); empty: none.
  std::filesystem::path share_dir;
  // model: load the persistence model (the TCG plugin). Off, a cut keeps every store and gives
  // no report.
  bool model = true;
  LabPersistence persistence = LabPersistence::kMachine;
  // on_cut: lose | keep | random:SEED[:P] (docs/design/persistence-model.md, cut policies).
  std::string on_cut = "lose";
  // nvdimm_images: NVDIMM i's content in file i (created zeroed when missing, never deleted);
  // empty: zeroed NVDIMMs in a private run folder, removed with the guest.
  std::vector<std::filesystem::path> nvdimm_images;
  // cold: boot the kernel every time instead of restoring the warm-start template.
  bool cold = false;
  // timeout_seconds bounds each call (a boot and command, a power-cycle), 1 to 86400.
  int timeout_seconds = 300;
  // hang_timeout_seconds: a guest whose console and agent are silent this long is hung; 0: off.
  int hang_timeout_seconds = 60;
  // verbose: nvlab's progress on stderr (QEMU command lines, boot steps).
  bool verbose = false;
};

// ValidateLabConfig is InvalidArgument naming the field when a value is out of range or does not
// parse (on_cut, timeout_seconds, an on_cut other than "lose" with the model off, ...).
Status ValidateLabConfig(const LabConfig& config);

}  // namespace nvlab

#endif  // NVLAB_SDK_LAB_CONFIG_H_
