// lab.cc -- Lab and LabGuest: the SDK's thin facade over LabSession (nvlab/lab_session.h) and
// Guest (nvlab/guest.h), the same code the nvlab command runs.

#include "nvlab/lab.h"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "install_search.h"
#include "lab_options_from_config.h"
#include "nvlab/guest.h"
#include "nvlab/guest_image.h"
#include "nvlab/lab_session.h"
#include "power_cut_report_from.h"

namespace nvlab {
namespace {

// CapturingSink keeps a command's output in a CommandResult.
class CapturingSink : public OutputSink {
 public:
  explicit CapturingSink(CommandResult* result) : result_(result) {}
  void Stdout(std::string_view bytes) override { result_->out.append(bytes); }
  void Stderr(std::string_view bytes) override { result_->err.append(bytes); }

 private:
  CommandResult* result_;
};

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// FillResult copies a session step into the SDK's result; the output is already there.
void FillResult(const StepResult& step, CommandResult* result) {
  result->exit_status = step.result.status.ShellStatus();
  result->signaled = step.result.status.signaled;
  result->cut_by_guest = step.result.cut_by_guest;
  if (step.result.cut_by_guest) result->exit_status = 0;
  result->cut = PowerCutReportFrom(step.cut);
  result->nvlab_pmem = step.nvlab_pmem;
  result->boot_seconds = step.boot_seconds;
  result->command_seconds = step.command_seconds;
}

// CallResult is a call's status as the SDK returns it: a Timeout is the caller's
// timeout_seconds only when the call's deadline has passed; a lab wait that expired before it
// (QMP, the agent's hello, a power cut) is a lab failure, as for the command
// (InternalWaitExpired in nvlab/invocation_deadline.h).
Status CallResult(const Status& status, const Deadline& call_deadline) {
  if (status.code() != Status::Code::kTimeout || call_deadline.expired()) return status;
  return Status::IoError("a lab wait expired (not timeout_seconds): " + status.message());
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

struct Lab::Impl {
  LabConfig config;
  LabOptions options;
  InstallLayout layout;

  Deadline CallDeadline() const {
    return Deadline::In(std::chrono::seconds(options.timeout_seconds));
  }
  std::unique_ptr<LabSession> NewSession() const {
    auto session = std::make_unique<LabSession>(options);
    session->UseInstallLayout(layout);
    return session;
  }
};

struct LabGuest::Impl {
  std::unique_ptr<LabSession> session;
  std::unique_ptr<Guest> guest;
  std::chrono::seconds timeout{0};
  std::string nvlab_pmem;

  Deadline CallDeadline() const { return Deadline::In(timeout); }
  Status Boot();
  Status RunStep(const std::vector<std::string>& argv, CommandResult* result);
};

Lab::Lab(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Lab::~Lab() = default;

Status Lab::CreateWithPackagePrefix(const LabConfig& config,
                                    const std::filesystem::path& package_prefix,
                                    std::unique_ptr<Lab>* out) {
  NVLAB_RETURN_IF_ERROR(ValidateLabConfig(config));
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = LabOptionsFromConfig(config);
  InstallSearch search;
  search.configured = config.prefix;
  search.env_prefix = EnvOrEmpty("NVLAB_PREFIX");
  search.package_prefix = package_prefix;
  search.path_env = EnvOrEmpty("PATH");
  std::string how;
  NVLAB_RETURN_IF_ERROR(FindInstall(search, &impl->layout, &how));
  if (config.verbose) {
    std::cerr << "nvlab: using the install at " << impl->layout.prefix.string() << " (" << how
              << ")\n";
  }
  impl->config.prefix = impl->layout.prefix;
  out->reset(new Lab(std::move(impl)));
  return Status::Ok();
}

const std::filesystem::path& Lab::prefix() const {
  return impl_->layout.prefix;
}
const LabConfig& Lab::config() const {
  return impl_->config;
}

Status Lab::PrepareImage() {
  const Deadline call = impl_->CallDeadline();
  GuestImage image;
  return CallResult(impl_->NewSession()->PrepareImage(&image), call);
}

Status Lab::Run(const std::string& shell_command, CommandResult* result) {
  return RunArgv(ShellCommand(shell_command), result);
}

Status Lab::RunArgv(const std::vector<std::string>& argv, CommandResult* result) {
  *result = CommandResult();
  const Deadline call = impl_->CallDeadline();
  CapturingSink sink(result);
  StepResult step;
  const Status s = impl_->NewSession()->RunOnce(argv, &sink, &step);
  FillResult(step, result);
  return CallResult(s, call);
}

Status Lab::PowerCycle(const std::string& before, const std::string& after,
                       PowerCycleOutcome* outcome) {
  *outcome = PowerCycleOutcome();
  const Deadline call = impl_->CallDeadline();
  CapturingSink before_sink(&outcome->before);
  CapturingSink after_sink(&outcome->after);
  PowerCycleResult result;
  const Status s = impl_->NewSession()->PowerCycle(ShellCommand(before), ShellCommand(after),
                                                   &before_sink, &result, &after_sink);
  outcome->machine = result.machine;
  outcome->persistence = result.persistence;
  outcome->model = result.model;
  outcome->on_cut = result.on_cut;
  FillResult(result.before, &outcome->before);
  outcome->cut = PowerCutReportFrom(result.cut);
  FillResult(result.after, &outcome->after);
  return CallResult(s, call);
}

Status Lab::Boot(std::unique_ptr<LabGuest>* out) {
  const Deadline call = impl_->CallDeadline();
  auto impl = std::make_unique<LabGuest::Impl>();
  impl->session = impl_->NewSession();
  impl->timeout = std::chrono::seconds(impl_->config.timeout_seconds);
  GuestConfig config;
  NVLAB_RETURN_IF_ERROR(CallResult(impl->session->MakeGuestConfig(&config), call));
  // The guest outlives one call: each call gets LabConfig::timeout_seconds of its own
  // (LabGuest::Impl::CallDeadline) instead of the session's one deadline.
  config.run_deadline = Deadline::Never();
  config.boot_timeout = impl->timeout;
  NVLAB_RETURN_IF_ERROR(Guest::Create(std::move(config), &impl->guest));
  NVLAB_RETURN_IF_ERROR(CallResult(impl->Boot(), call));
  out->reset(new LabGuest(std::move(impl)));
  return Status::Ok();
}

LabGuest::LabGuest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LabGuest::~LabGuest() = default;  // ~Guest kills a QEMU still running, removes the run folder

Status LabGuest::Impl::Boot() {
  NVLAB_RETURN_IF_ERROR(guest->Boot());
  const auto pmem = guest->hello().find("NVLAB_PMEM");
  nvlab_pmem = pmem != guest->hello().end() ? pmem->second : "";
  return Status::Ok();
}

Status LabGuest::Impl::RunStep(const std::vector<std::string>& argv, CommandResult* result) {
  *result = CommandResult();
  const Deadline call = CallDeadline();
  if (!guest->running()) NVLAB_RETURN_IF_ERROR(CallResult(Boot(), call));
  CapturingSink sink(result);
  StepResult step;
  step.argv = argv;
  step.nvlab_pmem = nvlab_pmem;
  const auto start = std::chrono::steady_clock::now();
  Status s = guest->Run(argv, &sink, call, &step.result);
  step.command_seconds = SecondsSince(start);
  if (s.ok() && step.result.cut_by_guest) {
    s = guest->PowerCut(&step.cut);
    session->NameUserCode(&step.cut);
  }
  FillResult(step, result);
  if (s.code() == Status::Code::kTimeout && call.expired()) {
    return Status::Timeout("timeout_seconds " + std::to_string(timeout.count()) +
                           " expired: " + s.message());
  }
  return CallResult(s, call);
}

Status LabGuest::Run(const std::string& shell_command, CommandResult* result) {
  return RunArgv(ShellCommand(shell_command), result);
}

Status LabGuest::RunArgv(const std::vector<std::string>& argv, CommandResult* result) {
  NVLAB_RETURN_IF_ERROR(impl_->RunStep(argv, result));
  // A command that cut the power leaves the guest down: it boots again on what survived.
  if (result->cut_by_guest) return impl_->Boot();
  return Status::Ok();
}

Status LabGuest::PowerCycle(const std::string& before, const std::string& after,
                            PowerCycleOutcome* outcome) {
  *outcome = PowerCycleOutcome();
  const Machine& machine = impl_->session->machine();
  outcome->machine = machine.name;
  outcome->persistence = ToString(machine.persistence);
  outcome->model = impl_->session->model_enabled();
  outcome->on_cut = outcome->model ? impl_->session->options().on_cut : "keep (no model)";
  NVLAB_RETURN_IF_ERROR(impl_->RunStep(ShellCommand(before), &outcome->before));
  if (outcome->before.cut_by_guest) {
    outcome->cut = outcome->before.cut;
  } else {
    CutReport cut;
    NVLAB_RETURN_IF_ERROR(CallResult(impl_->guest->PowerCut(&cut), impl_->CallDeadline()));
    impl_->session->NameUserCode(&cut);
    outcome->cut = PowerCutReportFrom(cut);
  }
  NVLAB_RETURN_IF_ERROR(impl_->session->CheckNotInterrupted("during the power cut"));
  const auto start = std::chrono::steady_clock::now();
  NVLAB_RETURN_IF_ERROR(CallResult(impl_->Boot(), impl_->CallDeadline()));
  const double boot_seconds = SecondsSince(start);
  NVLAB_RETURN_IF_ERROR(impl_->RunStep(ShellCommand(after), &outcome->after));
  outcome->after.boot_seconds = boot_seconds;
  if (outcome->after.cut_by_guest) return impl_->Boot();
  return Status::Ok();
}

Status LabGuest::PowerOff() {
  if (!impl_->guest->running()) return Status::Ok();
  impl_->session->RestartDeadline();
  return impl_->session->FinalPowerOff(impl_->guest.get());
}

const std::string& LabGuest::nvlab_pmem() const {
  return impl_->nvlab_pmem;
}

std::vector<std::filesystem::path> LabGuest::nvdimm_files() const {
  return impl_->guest->nvdimm_files();
}

}  // namespace nvlab
