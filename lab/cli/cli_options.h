// cli_options.h -- the nvlab command line: subcommand, options, and their parsing.
//
// ParseCliOptions never exits and never prints: it returns InvalidArgument with a message that
// names the offending option (the command then exits 2, interfaces.md).

#ifndef NVLAB_CLI_OPTIONS_H_
#define NVLAB_CLI_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nvlab/machine.h"
#include "nvlab/qemu_command_line.h"
#include "nvlab/status.h"

namespace nvlab {

enum class Subcommand { kNone, kHelp, kVersion, kImage, kRun, kPowerCycle, kDemo };

inline constexpr int kDefaultTimeoutSeconds = 300;

struct CliOptions {
  Subcommand subcommand = Subcommand::kNone;
  std::string machine = "default";
  std::vector<uint64_t> nvdimm_sizes;  // --nvdimm, each one NVDIMM (replaces the machine's list)
  std::optional<NamespaceMode> namespace_mode;
  std::optional<FileSystem> filesystem;
  std::optional<Persistence> persistence;
  std::string share_dir;
  std::vector<std::string> nvdimm_images;
  Accel accel = Accel::kTcg;
  std::optional<bool> model;  // unset: on under TCG, off under KVM
  std::string on_cut = "lose";
  uint64_t cut_after_fences = 0;
  std::string trace_stores = "off";
  bool deterministic = false;
  int timeout_seconds = kDefaultTimeoutSeconds;
  bool json = false;
  bool verbose = false;
  std::vector<std::string> command;  // run: after "--"
  std::string before;                // power-cycle
  std::string after;
};

Status ParseCliOptions(int argc, char** argv, CliOptions* out);

// ValidateOnCut checks lose | keep | random:SEED[:P] (P in [0, 1]).
bool ValidateOnCut(const std::string& text);

// UsageText is the --help text.
const char* UsageText();

}  // namespace nvlab

#endif  // NVLAB_CLI_OPTIONS_H_
