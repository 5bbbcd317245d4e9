// main.cc -- the nvlab command: image, run, power-cycle, shell, demo, machine, campaign, explore
// (nvlab --help says how).
//
// Exit statuses (docs/design/interfaces.md): run: the guest command's; power-cycle: the command
// after the cut; 2: usage error; 124: --timeout expired; 125: the lab failed; 130: interrupted.
// run --dry-run, power-cycle --dry-run and machine exit 0 when they printed what was asked.

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "campaign_command.h"
#include "cli_options.h"
#include "doctor_command.h"
#include "domain_session.h"
#include "explore_command.h"
#include "lab_session.h"
#include "nvlab/interruption.h"
#include "nvlab/invocation_deadline.h"
#include "nvlab/progress_line.h"
#include "nvlab/shell_words.h"
#include "shell_command.h"

namespace {

using nvlab::CliOptions;
using nvlab::Status;

void WriteFd(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout closed: the guest's output has nowhere to go, keep running
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// PassThroughSink forwards a guest command's output to nvlab's own stdout/stderr, unchanged.
class PassThroughSink : public nvlab::OutputSink {
 public:
  void Stdout(std::string_view bytes) override { WriteFd(1, bytes); }
  void Stderr(std::string_view bytes) override { WriteFd(2, bytes); }
};

// Fail prints a failure and gives its exit status. 124 is the user's --timeout and nothing
// else: a Timeout before the invocation deadline passed is a lab wait that expired (125).
int Fail(const Status& failure) {
  Status status = nvlab::InternalWaitExpired(failure);
  if (status.code() == Status::Code::kTimeout && !status.message().starts_with("--timeout")) {
    status = Status::Timeout("--timeout expired: " + status.message());
  }
  std::cerr << "nvlab: " << status.message() << "\n";
  return nvlab::ExitStatusFor(status);
}

int RunImage(const CliOptions& opts) {
  nvlab::LabSession lab(opts);
  nvlab::GuestImage image;
  const Status s = lab.PrepareImage(&image);
  if (!s.ok()) return Fail(s);
  if (opts.json) {
    nlohmann::json doc = {{"kernel", image.kernel.string()},
                          {"initrd", image.initrd.string()},
                          {"manifest", image.manifest.string()},
                          {"kernel_release", image.kernel_release}};
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cerr << "nvlab: guest image ready in " << image.dir.string() << " (kernel "
              << image.kernel_release << ")\n";
  }
  return 0;
}

// RunDryRun prints the QEMU command line of each of the first `boots` boots, one line each.
int RunDryRun(const CliOptions& opts, int boots) {
  nvlab::LabSession lab(opts);
  std::vector<std::vector<std::string>> command_lines;
  const Status s = lab.DryRun(boots, &command_lines);
  if (!s.ok()) return Fail(s);
  for (const auto& argv : command_lines) std::cout << nvlab::ShellCommandLine(argv) << "\n";
  std::cout << std::flush;
  return 0;
}

int RunMachine(const CliOptions& opts) {
  nvlab::LabSession lab(opts);
  std::string xml;
  const Status s = lab.LibvirtDomain(opts.domain_name, opts.domain_dir, &xml);
  if (!s.ok()) return Fail(s);
  std::cout << xml << std::flush;
  return 0;
}

int RunRun(const CliOptions& opts) {
  if (opts.dry_run) return RunDryRun(opts, 1);
  nvlab::LabSession lab(opts);
  PassThroughSink sink;
  std::vector<std::string> argv =
      opts.command.size() == 1 ? nvlab::ShellCommand(opts.command[0]) : opts.command;
  nvlab::StepResult step;
  const Status s = opts.domain.empty() ? lab.RunOnce(argv, &sink, &step)
                                       : nvlab::RunOnDomain(opts, argv, &sink, &step);
  if (!s.ok()) return Fail(s);
  if (opts.json) {
    nlohmann::json doc = nvlab::StepJson(step);
    if (step.cut.present) doc["cut"] = {{"report", nvlab::CutReportJson(step.cut)}};
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cerr << nvlab::CutSummary(step.cut, " ");
  }
  return step.result.status.ShellStatus();
}

int RunPowerCycle(const CliOptions& opts) {
  if (opts.dry_run) return RunDryRun(opts, 2);
  nvlab::LabSession lab(opts);
  PassThroughSink sink;
  nvlab::PowerCycleResult result;
  const std::vector<std::string> before = nvlab::ShellCommand(opts.before);
  const std::vector<std::string> after = nvlab::ShellCommand(opts.after);
  const Status s = opts.domain.empty()
                       ? lab.PowerCycle(before, after, &sink, &result)
                       : nvlab::PowerCycleOnDomain(opts, before, after, &sink, &result);
  if (!s.ok()) return Fail(s);
  if (opts.json) {
    std::cout << nvlab::PowerCycleJson(result).dump(2) << "\n";
  } else {
    std::cerr << nvlab::PowerCycleSummary(result);
  }
  return result.after.result.status.ShellStatus();
}

}  // namespace

static int RunSubcommand(const CliOptions& opts);

static int Main(int argc, char** argv) {
  const nvlab::ParsedCommandLine parsed =
      nvlab::ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  switch (parsed.status) {
    case nvlab::CommandLineStatus::kUsageError:
      std::cerr << "nvlab: " << parsed.text << "\n";
      return 2;
    case nvlab::CommandLineStatus::kHelp:
      std::cout << parsed.text;
      return 0;
    case nvlab::CommandLineStatus::kVersion:
      std::cout << parsed.text << "\n";
      return 0;
    case nvlab::CommandLineStatus::kOk:
      break;
  }
  CliOptions opts = parsed.options;
  // The progress line, for the commands that run one guest at a time on a terminal (campaign and
  // explore print progress of their own); a shell's boot shows it until the shell starts.
  opts.progress =
      (opts.subcommand == nvlab::Subcommand::kImage || opts.subcommand == nvlab::Subcommand::kRun ||
       opts.subcommand == nvlab::Subcommand::kPowerCycle ||
       opts.subcommand == nvlab::Subcommand::kShell) &&
      nvlab::ProgressWanted(opts.json, opts.debug.console, opts.verbose);
  nvlab::InstallInterruptionHandlers();
  // The whole invocation ends by --timeout. Campaigns give each case its own; a bare `nvlab
  // image` (a first build downloads packages) has none unless one is given; an interactive `nvlab
  // shell` has the longest one unless one is given.
  const bool whole_run_limit = opts.subcommand != nvlab::Subcommand::kCampaign &&
                               opts.subcommand != nvlab::Subcommand::kCampaignMerge &&
                               (opts.subcommand != nvlab::Subcommand::kImage || opts.timeout_given);
  const int limit = opts.subcommand == nvlab::Subcommand::kShell && !opts.timeout_given
                        ? nvlab::kMaxTimeoutSeconds
                        : opts.timeout_seconds;
  if (whole_run_limit) {
    nvlab::SetInvocationDeadline(nvlab::Deadline::In(std::chrono::seconds(limit)));
  }
  const int status = RunSubcommand(opts);
  // A Ctrl-C that came when nothing was waiting (between steps, in the last one) still ends the
  // invocation as interrupted: never 0, never the command's status.
  if (const int sig = nvlab::InterruptionSignal(); sig != 0 && status != 130) {
    std::cerr << "nvlab: interrupted by signal " << sig << "\n";
    return 130;
  }
  return status;
}

static int RunSubcommand(const CliOptions& opts) {
  switch (opts.subcommand) {
    case nvlab::Subcommand::kImage:
      return RunImage(opts);
    case nvlab::Subcommand::kRun:
      return RunRun(opts);
    case nvlab::Subcommand::kPowerCycle:
      return RunPowerCycle(opts);
    case nvlab::Subcommand::kDemo:
      return nvlab::RunDemo(opts);
    case nvlab::Subcommand::kMachine:
      return RunMachine(opts);
    case nvlab::Subcommand::kCampaign:
      return nvlab::RunCampaign(opts.campaign);
    case nvlab::Subcommand::kCampaignMerge:
      return nvlab::RunCampaignMerge(opts.campaign);
    case nvlab::Subcommand::kExplore:
      return nvlab::RunExplore(opts);
    case nvlab::Subcommand::kDoctor:
      return nvlab::RunDoctor(opts);
    case nvlab::Subcommand::kShell:
      return nvlab::RunShell(opts);
    case nvlab::Subcommand::kNone:
      break;
  }
  std::cerr << "nvlab: no command given (try nvlab --help)\n";
  return 2;
}

// main keeps every exception inside nvlab: the library reports failures as Status, so one that
// escapes is an allocation failure or a bug, reported as a lab failure.
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "nvlab: internal error: %s\n", e.what());
  } catch (...) {
    (void)std::fprintf(stderr, "nvlab: internal error\n");
  }
  return 125;
}
