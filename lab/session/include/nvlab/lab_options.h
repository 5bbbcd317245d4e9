// File: nvlab/lab_options.h
//
// LabOptions are the lab options of one session (docs/design/interfaces.md, "The lab options"):
// what shapes the guests a LabSession boots and how long they may take. The nvlab command fills
// them from its command line (CliOptions extends them); the SDK (lab/sdk) from its LabConfig.
//
// Thread-safety: a plain value.

#ifndef NVLAB_LAB_OPTIONS_H_
#define NVLAB_LAB_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nvlab/machine.h"
#include "nvlab/qemu_command_line.h"

namespace nvlab {

inline constexpr int kDefaultTimeoutSeconds = 300;
// --hang-timeout: generous, since a loaded host slows a TCG guest down; 0 turns it off.
inline constexpr int kDefaultHangTimeoutSeconds = 60;

struct LabOptions {
  std::string machine = "default";     // a name in the machines folder, or a file
  std::vector<uint64_t> nvdimm_sizes;  // --nvdimm, each one NVDIMM (replaces the machine's list)
  std::optional<NamespaceMode> namespace_mode;
  std::optional<FileSystem> filesystem;
  std::optional<Persistence> persistence;
  std::string share_dir;
  std::vector<std::string> nvdimm_images;
  Accel accel = Accel::kTcg;
  std::optional<bool> model;  // unset: on under TCG, off under KVM
  // on_cut is the --on-cut text as given: the plugin reads it with model::ParseCutPolicy, the
  // reports show it.
  std::string on_cut = "lose";
  uint64_t cut_after_fences = 0;  // 0: never
  std::string trace_stores = "off";
  bool deterministic = false;
  // cold: boot the kernel every time instead of restoring the warm-start template
  // (docs/design/warm-starts.md).
  bool cold = false;
  // timeout_seconds bounds a session from its construction (LabSession::RestartDeadline starts
  // the count again).
  int timeout_seconds = kDefaultTimeoutSeconds;
  // hang_timeout_seconds: a command's guest silent this long (console and agent) is hung; 0: off.
  int hang_timeout_seconds = kDefaultHangTimeoutSeconds;
  bool verbose = false;
};

}  // namespace nvlab

#endif  // NVLAB_LAB_OPTIONS_H_
