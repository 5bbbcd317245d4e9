// main.cc -- the nvlab command: image, run, power-cycle, demo, campaign (nvlab --help says how).
//
// Exit statuses (docs/design/interfaces.md): run: the guest command's; power-cycle: the command
// after the cut; 2: usage error; 124: --timeout expired; 125: the lab failed; 130: interrupted.

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "campaign_command.h"
#include "cli_options.h"
#include "lab_session.h"
#include "nvlab/interruption.h"

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

int Fail(const Status& status) {
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

int RunRun(const CliOptions& opts) {
  nvlab::LabSession lab(opts);
  PassThroughSink sink;
  std::vector<std::string> argv =
      opts.command.size() == 1 ? nvlab::ShellCommand(opts.command[0]) : opts.command;
  nvlab::StepResult step;
  const Status s = lab.RunOnce(argv, &sink, &step);
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
  nvlab::LabSession lab(opts);
  PassThroughSink sink;
  nvlab::PowerCycleResult result;
  const Status s = lab.PowerCycle(nvlab::ShellCommand(opts.before), nvlab::ShellCommand(opts.after),
                                  &sink, &result);
  if (!s.ok()) return Fail(s);
  if (opts.json) {
    std::cout << nvlab::PowerCycleJson(result).dump(2) << "\n";
  } else {
    std::cerr << nvlab::PowerCycleSummary(result);
  }
  return result.after.result.status.ShellStatus();
}

}  // namespace

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
  const CliOptions& opts = parsed.options;
  nvlab::InstallInterruptionHandlers();
  switch (opts.subcommand) {
    case nvlab::Subcommand::kImage:
      return RunImage(opts);
    case nvlab::Subcommand::kRun:
      return RunRun(opts);
    case nvlab::Subcommand::kPowerCycle:
      return RunPowerCycle(opts);
    case nvlab::Subcommand::kDemo:
      return nvlab::RunDemo(opts);
    case nvlab::Subcommand::kCampaign:
      return nvlab::RunCampaign(opts.campaign);
    case nvlab::Subcommand::kCampaignMerge:
      return nvlab::RunCampaignMerge(opts.campaign);
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
