// cli_options.h -- the nvlab command line: its commands, its options, and ParseCommandLine.
//
// ParseCommandLine is a pure function of the words after "nvlab": it never prints, never exits
// and lets no CLI11 exception out. A usage error comes back as one line that names the offending
// option or value and ends with a hint to --help; the command then exits 2.

#ifndef NVLAB_CLI_OPTIONS_H_
#define NVLAB_CLI_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "debug_options.h"
#include "nvlab/lab_options.h"
#include "nvlab/machine.h"
#include "nvlab/model/cut_policy.h"
#include "nvlab/qemu_command_line.h"

namespace nvlab {

enum class Subcommand {
  kNone,
  kImage,
  kRun,
  kPowerCycle,
  kDemo,
  kMachine,
  kCampaign,
  kCampaignMerge,
  kExplore,
  kDoctor,
  kShell
};

// kDefaultTimeoutSeconds and kDefaultHangTimeoutSeconds: nvlab/lab_options.h.
inline constexpr int kMaxTimeoutSeconds = 86400;

// CampaignOptions: `nvlab campaign FILE ...` and `nvlab campaign merge SHARD.json ...`.
struct CampaignOptions {
  std::string file;
  int jobs = 1;
  int shard = 1;  // --shard I/N
  int shards = 1;
  std::string host;  // --host: the name the reports record; empty: gethostname()
  std::string json_out;
  std::string junit_out;
  std::vector<std::string> merge_inputs;
  bool allow_missing = false;
};

// ExploreOptions: `nvlab explore --workload CMD --check CMD ...` (docs/design/exploration.md).
inline constexpr int kMaxExploreJobs = 16;
struct ExploreOptions {
  std::string workload;
  std::string check;
  std::string crash_points = "fences";
  uint64_t seed = 0;
  uint64_t max_states = 0;  // per crash point; 0: no limit
  bool no_prune = false;
  int jobs = 1;
  std::string keep_failures;
  std::string recording;  // --recording DIR
  std::string json_out;
  std::string junit_out;
  std::string html_out;
};

// CliOptions are the lab options (LabOptions, shared with the SDK) and the command's own.
struct CliOptions : LabOptions {
  Subcommand subcommand = Subcommand::kNone;
  // on_cut_policy is what model::ParseCutPolicy made of LabOptions::on_cut.
  model::CutPolicy on_cut_policy;
  // timeout_given: --timeout was on the command line (`nvlab image` has no limit without it).
  bool timeout_given = false;
  bool json = false;
  std::vector<std::string> command;  // run: the words after "--"
  std::string before;                // power-cycle
  std::string after;
  bool dry_run = false;  // run, power-cycle: print QEMU's command lines, start nothing
  // shell --power-cycle: the first shell ends with a power cut, a second shell follows.
  bool shell_power_cycle = false;
  // machine: `machine` holds its NAME|FILE argument.
  bool libvirt_xml = false;
  std::string domain_name;  // empty: the machine's name
  std::string domain_dir;   // empty: DefaultLibvirtDomainDir
  // run and power-cycle on a libvirt domain instead of a guest nvlab starts: --domain NAME, and
  // --connect URI (empty: libvirt's default). The domain's definition fixes the machine, so the
  // options that shape a guest are usage errors with --domain (DomainOptionProblem).
  std::string domain;
  std::string connect_uri;
  CampaignOptions campaign;
  ExploreOptions explore;
};

enum class CommandLineStatus {
  kOk,          // options holds what to do
  kHelp,        // text is the help to print on stdout (exit 0)
  kVersion,     // text is "nvlab VERSION" (print on stdout, exit 0)
  kUsageError,  // text is one line for stderr (exit 2)
};

struct ParsedCommandLine {
  CommandLineStatus status = CommandLineStatus::kUsageError;
  CliOptions options;
  std::string text;
};

// ParseCommandLine parses the words after the program name: COMMAND [OPTIONS] (the lab options
// may also come before COMMAND), and for run "-- CMD ARGS...". It throws nothing but
// std::bad_alloc.
ParsedCommandLine ParseCommandLine(const std::vector<std::string>& args);

}  // namespace nvlab

#endif  // NVLAB_CLI_OPTIONS_H_
