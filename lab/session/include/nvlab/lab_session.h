// File: nvlab/lab_session.h
//
// LabSession is what one nvlab invocation (or one SDK Lab call, lab/sdk) does with its lab
// options: resolve the machine, make sure the image exists, check QEMU, and drive Guests for
// run, power-cycle and demo; or, for --dry-run and nvlab machine --libvirt-xml, show what would
// run. It prints notices and warnings (and with LabOptions::verbose its progress) on stderr.
//
// Life cycle: a session's deadline starts at its construction (LabOptions::timeout_seconds).
// Thread-safety: one thread at a time per session; sessions side by side are independent.

#ifndef NVLAB_SESSION_LAB_SESSION_H_
#define NVLAB_SESSION_LAB_SESSION_H_

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/cut_report.h"
#include "nvlab/deadline.h"
#include "nvlab/guest.h"
#include "nvlab/guest_image.h"
#include "nvlab/install_layout.h"
#include "nvlab/lab_options.h"
#include "nvlab/status.h"

namespace nvlab {

// StepResult is one boot's command: what ran, how it ended, how long things took.
struct StepResult {
  std::vector<std::string> argv;
  RunResult result;
  double boot_seconds = 0;
  double command_seconds = 0;
  std::string nvlab_pmem;
  // cut: for `run`, the model's report when the command cut the power (RunResult::cut_by_guest).
  CutReport cut;
};

struct PowerCycleResult {
  std::string machine;
  std::string persistence;
  bool model = false;
  std::string on_cut;
  StepResult before;
  CutReport cut;
  StepResult after;
};

// kPowerOffWait: how long a guest may take to power off after its last command.
inline constexpr std::chrono::seconds kPowerOffWait{30};

// ExitStatusFor maps a failure to nvlab's exit status: 2 usage, 124 the user's --timeout (a
// Timeout status; see InternalWaitExpired in nvlab/invocation_deadline.h for the others), 125
// lab failure, 130 interrupted.
int ExitStatusFor(const Status& status);

class LabSession {
 public:
  explicit LabSession(const LabOptions& options);

  // UseInstallLayout makes the session find the plugin, machines and guest tools in `layout`
  // instead of relative to /proc/self/exe (InstallLayout::FromExecutable): the SDK's callers are
  // not PREFIX/bin/nvlab.
  void UseInstallLayout(const InstallLayout& layout) {
    layout_ = layout;
    layout_given_ = true;
  }
  // RestartDeadline gives the session timeout_seconds again from now: a guest the SDK keeps
  // booted for many commands bounds each call, not the guest's whole life.
  void RestartDeadline();

  Status PrepareImage(GuestImage* image);
  // UsePreparedImage makes PrepareImage return `image` instead of checking the cache: sessions
  // that run side by side (nvlab campaign --jobs) share one image prepared before they start.
  void UsePreparedImage(const GuestImage& image) { prepared_image_ = image; }
  // MakeGuest resolves everything and creates (does not boot) a guest; a dry-run guest
  // (GuestConfig::dry_run) only shows its command lines, and needs no QEMU installed.
  Status MakeGuest(std::unique_ptr<Guest>* guest, bool dry_run = false);
  // MakeGuestConfig is MakeGuest's configuration, for callers that create guests themselves
  // (nvlab explore's recording and check guests).
  Status MakeGuestConfig(GuestConfig* config, bool dry_run = false);
  // SymbolDirs holds the host copies of the guest's programs (the guest tools, --share), where
  // UserSymbolizer names user-space functions.
  std::vector<std::filesystem::path> SymbolDirs() const;
  // ChooseWarmStart decides between a warm start and a cold boot (lab_session.cc says how).
  Status ChooseWarmStart(bool dry_run, GuestConfig* config);
  // DryRun gives the QEMU argv of each of the first `boots` boots (run: 1, power-cycle: 2), as
  // RunOnce or PowerCycle would start them; it starts nothing and makes no file the user named.
  Status DryRun(int boots, std::vector<std::vector<std::string>>* command_lines);
  // LibvirtDomain prepares the domain folder (nvlab/libvirt_domain_folder.h) and renders the
  // domain's XML: nvlab machine --libvirt-xml. domain_name empty: the machine's name;
  // domain_dir empty: DefaultLibvirtDomainDir.
  Status LibvirtDomain(const std::string& domain_name, const std::string& domain_dir,
                       std::string* xml);
  // RunOnce boots, runs argv, powers off (or, when the command cut the power, collects the cut
  // report into step->cut).
  Status RunOnce(const std::vector<std::string>& argv, OutputSink* sink, StepResult* step);
  // PowerCycle boots, runs before, cuts the power when it exits (or when it cut the power
  // itself), boots again, runs after, powers off. The after command's output goes to
  // after_sink when one is given (the SDK keeps the two apart), else to sink.
  Status PowerCycle(const std::vector<std::string>& before, const std::vector<std::string>& after,
                    OutputSink* sink, PowerCycleResult* result, OutputSink* after_sink = nullptr);
  // Step boots `guest` and runs argv on it within the session deadline.
  Status Step(Guest* guest, const std::vector<std::string>& argv, OutputSink* sink,
              StepResult* step);

  // FinalPowerOff powers the guest off after the last command; a guest that does not (within
  // kPowerOffWait or the deadline) is killed with a warning, and the command's status stands.
  Status FinalPowerOff(Guest* guest);
  // NameUserCode sets the symbols of the report's user-space stores that UserSymbolizer finds
  // among the guest tools and the --share folder.
  void NameUserCode(CutReport* report) const;
  // CheckNotInterrupted is Cancelled ("interrupted by signal N <where>") once the user asked
  // nvlab to stop, for the steps that are not broken off by a signal (a power cut, the image).
  Status CheckNotInterrupted(std::string_view where) const;

  const LabOptions& options() const { return options_; }
  const Machine& machine() const { return machine_; }
  bool model_enabled() const;

 private:
  Status ResolveMachine();

  LabOptions options_;
  Deadline deadline_;
  InstallLayout layout_;
  bool layout_given_ = false;
  Machine machine_;
  bool machine_resolved_ = false;
  std::optional<GuestImage> prepared_image_;
};

}  // namespace nvlab

#endif  // NVLAB_SESSION_LAB_SESSION_H_
