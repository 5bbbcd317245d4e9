// campaign_command.cc -- RunCampaign and RunCampaignMerge.
//
// RunCampaign reads as its steps: load and expand the campaign file, keep this shard's cases,
// check the output paths, make sure the lab can run (QEMU, the image: prepared once, shared by
// every case), run the cases (LabExecutor: one LabSession power-cycle each, as `nvlab
// power-cycle` does it), write the reports, print the summary.

#include "campaign_command.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "lab_session.h"
#include "nvlab/campaign/campaign_file.h"
#include "nvlab/campaign/campaign_report.h"
#include "nvlab/campaign/campaign_runner.h"
#include "nvlab/campaign/junit_report.h"
#include "nvlab/guest_image.h"
#include "nvlab/image/sha256_digest.h"
#include "nvlab/install_layout.h"
#include "nvlab/interruption.h"
#include "nvlab/model/cut_policy.h"
#include "nvlab/qemu_host.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using campaign::CampaignCase;
using campaign::CampaignReport;
using campaign::CaseOutcome;

constexpr char kPrefix[] = "nvlab campaign: ";

int Fail(const std::string& message, int exit_status) {
  std::cerr << "nvlab: " << message << "\n";
  return exit_status;
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

size_t TerminalColumns() {
  struct winsize size {};
  if (ioctl(2, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 100;
}

// CheckOutputPath fails when `path` cannot be written: found before the cases run, not after.
Status CheckOutputPath(const char* option, const std::string& path) {
  if (path.empty()) return Status::Ok();
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::InvalidArgument(std::string(option) + ": no folder " + dir.string());
  }
  if (access(dir.c_str(), W_OK) != 0) {
    return Status::InvalidArgument(std::string(option) + ": cannot write in " + dir.string());
  }
  return Status::Ok();
}

// ShellExit is a command's status as the report keeps it: 0-255, else the lab failed.
Status ShellExit(const char* step, const StepResult& result, std::optional<int>* out) {
  const int status = result.result.status.ShellStatus();
  if (status < 0 || status > 255) {
    return Status::ProtocolError(std::string("the guest reported exit status ") +
                                 std::to_string(status) + " for " + step);
  }
  *out = status;
  return Status::Ok();
}

// LabExecutor runs a case as `nvlab power-cycle` would, with its output captured.
class LabExecutor : public campaign::CaseExecutor {
 public:
  explicit LabExecutor(GuestImage image) : image_(std::move(image)) {}

  CaseOutcome Run(const CampaignCase& c) override {
    CliOptions options;
    options.subcommand = Subcommand::kPowerCycle;
    options.machine = c.machine_file.string();
    Persistence persistence = Persistence::kAdr;
    ParsePersistence(c.persistence, &persistence);
    options.persistence = persistence;
    options.share_dir = c.share_dir.string();
    options.on_cut = c.on_cut;
    model::ParseCutPolicy(c.on_cut, &options.on_cut_policy, nullptr);
    options.timeout_seconds = c.timeout_seconds;
    options.before = c.before;
    options.after = c.after;

    LabSession lab(options);
    lab.UsePreparedImage(image_);
    campaign::OutputTail tail;
    PowerCycleResult result;
    CaseOutcome outcome;
    outcome.status = lab.PowerCycle(ShellCommand(c.before), ShellCommand(c.after), &tail, &result);
    outcome.stdout_tail = tail.StdoutTail();
    outcome.stderr_tail = tail.StderrTail();
    if (result.cut.present) outcome.lost_lines = result.cut.lost_lines;
    // The steps run in order: the cut, or the after command's start, means before ended.
    const bool before_ended =
        outcome.status.ok() || result.cut.present || !result.after.argv.empty();
    if (before_ended) {
      outcome.before_cut_power = result.before.result.cut_by_guest;
      if (!outcome.before_cut_power) {
        const Status s = ShellExit("before", result.before, &outcome.before_exit);
        if (!s.ok() && outcome.status.ok()) outcome.status = s;
      }
    }
    if (outcome.status.ok()) {
      outcome.after_cut_power = result.after.result.cut_by_guest;
      if (!outcome.after_cut_power) {
        outcome.status = ShellExit("after", result.after, &outcome.after_exit);
      }
    }
    return outcome;
  }

 private:
  const GuestImage image_;
};

// PrepareLab checks QEMU and the persistence model and prepares the guest image once, for
// every case.
Status PrepareLab(const InstallLayout& layout, GuestImage* image) {
  std::string version;
  NVLAB_RETURN_IF_ERROR(PrepareNvlabHome(DefaultNvlabHome()));
  NVLAB_RETURN_IF_ERROR(CheckQemuCached("qemu-system-x86_64", 10, 0, DefaultNvlabHome(), &version));
  std::error_code ec;
  if (!fs::exists(layout.plugin, ec)) {
    return Status::NotFound("the persistence model plugin is missing: " + layout.plugin.string());
  }
  LabSession lab{CliOptions{}};
  return lab.PrepareImage(image);
}

// WriteReports writes the JSON and JUnit reports that were asked for.
Status WriteReports(const CampaignOptions& options, const CampaignReport& report) {
  if (!options.json_out.empty()) {
    const Status s = campaign::WriteReportFile(options.json_out, campaign::ReportJson(report));
    if (!s.ok()) return s.WithContext("--json");
  }
  if (!options.junit_out.empty()) {
    const Status s = campaign::WriteReportFile(options.junit_out, campaign::JunitXml(report));
    if (!s.ok()) return s.WithContext("--junit");
  }
  return Status::Ok();
}

// Finish writes the reports, prints the summary and gives the exit status.
int Finish(const CampaignOptions& options, const CampaignReport& report, double seconds,
           int exit_status_if_done) {
  const Status written = WriteReports(options, report);
  const campaign::ReportSummary summary = report.Summary();
  std::cerr << kPrefix << campaign::SummaryLine(summary, seconds) << "\n";
  if (!written.ok()) return Fail(written.message(), 125);
  if (exit_status_if_done != 0) return exit_status_if_done;
  return summary.AllPassed() ? 0 : 1;
}

}  // namespace

int RunCampaign(const CampaignOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string started = campaign::IsoTimeUtc(std::time(nullptr));
  InstallLayout layout;
  if (Status s = InstallLayout::FromExecutable(&layout); !s.ok()) return Fail(s.message(), 125);
  campaign::Campaign file;
  std::string bytes;
  if (Status s = campaign::LoadCampaign(options.file, layout.machines_dir, &file, &bytes);
      !s.ok()) {
    return Fail(s.message(), 2);
  }
  for (const auto& [option, path] :
       {std::pair{"--json", options.json_out}, std::pair{"--junit", options.junit_out}}) {
    if (Status s = CheckOutputPath(option, path); !s.ok()) return Fail(s.message(), 2);
  }
  std::vector<CampaignCase> all;
  if (Status s = campaign::ExpandCampaign(file, &all); !s.ok()) return Fail(s.message(), 2);
  const std::vector<CampaignCase> cases = campaign::SelectShard(all, options.shard, options.shards);

  CampaignReport report;
  report.campaign = file.name;
  report.campaign_sha256 = image::Sha256Hex(bytes);
  report.cases_total = all.size();
  // Hosts of a test fleet can share one gethostname() (loopback hosts): --host tells them apart.
  const std::string host = options.host.empty() ? HostName() : options.host;
  report.shards.push_back({options.shard, options.shards, host, started, 0});
  auto seconds = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  GuestImage image;
  if (Status s = cases.empty() ? Status::Ok() : PrepareLab(layout, &image); !s.ok()) {
    std::cerr << "nvlab: the lab cannot run: " << s.message() << "\n";
    for (const CampaignCase& c : cases) {
      report.cases.push_back(campaign::NotRunResult(c, host, options.shard,
                                                    "not run: the lab cannot run: " + s.message()));
    }
    report.shards.front().seconds = seconds();
    const int status = s.code() == Status::Code::kCancelled ? 130 : 125;
    return Finish(options, report, seconds(), status);
  }

  campaign::RunnerOptions runner;
  runner.jobs = options.jobs;
  runner.host = host;
  runner.shard = options.shard;
  runner.of = options.shards;
  LabExecutor executor(image);
  campaign::TextProgress progress(stderr, isatty(2) == 1, TerminalColumns());
  bool interrupted = false;
  report.cases = campaign::RunCases(cases, runner, &executor, &progress, &interrupted);
  report.shards.front().seconds = seconds();
  return Finish(options, report, seconds(), interrupted ? 130 : 0);
}

int RunCampaignMerge(const CampaignOptions& options) {
  std::vector<CampaignReport> inputs;
  for (const std::string& name : options.merge_inputs) {
    CampaignReport report;
    if (Status s = campaign::ReadReportFile(name, &report); !s.ok()) return Fail(s.message(), 2);
    inputs.push_back(std::move(report));
  }
  for (const auto& [option, path] :
       {std::pair{"--json", options.json_out}, std::pair{"--junit", options.junit_out}}) {
    if (Status s = CheckOutputPath(option, path); !s.ok()) return Fail(s.message(), 2);
  }
  CampaignReport merged;
  if (Status s =
          campaign::MergeReports(inputs, options.merge_inputs, options.allow_missing, &merged);
      !s.ok()) {
    return Fail(s.message(), 2);
  }
  // The shards ran side by side: the fleet took as long as the slowest.
  double seconds = 0;
  for (const campaign::ShardRun& shard : merged.shards) seconds = std::max(seconds, shard.seconds);
  return Finish(options, merged, seconds, 0);
}

}  // namespace nvlab
