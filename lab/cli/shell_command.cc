// shell_command.cc -- RunShell: boot, relay the guest's shell on the user's terminal, power off
// (or, with --power-cycle, cut, report, boot again, relay a second shell).

#include "shell_command.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "lab_session.h"
#include "nvlab/interruption.h"
#include "nvlab/invocation_deadline.h"
#include "nvlab/pty_channel.h"
#include "terminal_raw_mode.h"
#include "window_size_watch.h"

namespace nvlab {
namespace {

// TerminalChannel is the user's terminal behind the guest's pty: stdin in, stdout out, the
// window size from stdin.
class TerminalChannel : public PtyChannel {
 public:
  explicit TerminalChannel(WindowSizeWatch* watch) : watch_(watch) {}
  int input_fd() const override { return STDIN_FILENO; }
  void Output(std::string_view bytes) override {
    while (!bytes.empty()) {
      const ssize_t n = write(STDOUT_FILENO, bytes.data(), bytes.size());
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno == EAGAIN) {
        pollfd p{STDOUT_FILENO, POLLOUT, 0};
        poll(&p, 1, 100);
      } else if (n == 0 || errno != EINTR) {
        return;  // stdout is gone: the shell still ends when the user leaves it
      }
    }
  }
  std::optional<PtyWindowSize> TakeWindowSize() override { return watch_->TakeChange(); }

 private:
  WindowSizeWatch* watch_;
};

// TermName is what the guest's TERM becomes: the host's when it is a terminfo name, else dumb.
std::string TermName() {
  const char* term = std::getenv("TERM");
  return term != nullptr && IsValidPtyTerm(term) ? term : "dumb";
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Failure prints a failure as main's Fail does and gives its exit status.
int Failure(const Status& failure) {
  Status status = InternalWaitExpired(failure);
  if (status.code() == Status::Code::kTimeout && !status.message().starts_with("--timeout")) {
    status = Status::Timeout("--timeout expired: " + status.message());
  }
  std::cerr << "nvlab: " << status.message() << "\n";
  return ExitStatusFor(status);
}

// SessionOptions are the lab options of the shell's LabSession: without --timeout, the longest
// --timeout there is (kMaxTimeoutSeconds), since an interactive session has no natural length.
LabOptions SessionOptions(const CliOptions& options) {
  LabOptions lab = options;
  if (!options.timeout_given) lab.timeout_seconds = kMaxTimeoutSeconds;
  return lab;
}

// ShellSession is one `nvlab shell`: its guest, the terminal, what the boots took.
class ShellSession {
 public:
  explicit ShellSession(const CliOptions& options)
      : options_(options), lab_(SessionOptions(options)), watch_(STDIN_FILENO) {}

  Status Run();

 private:
  // Boot boots the guest and says how to leave the shell that follows.
  Status Boot(StepResult* step, bool first);
  // Shell relays one shell, the terminal raw for exactly that long.
  Status Shell(StepResult* step);
  // PowerOff powers the guest off after the last shell (a guest that does not is killed, with a
  // warning: the user's session has ended either way).
  Status PowerOff();
  // ReportShellStatus names a shell's nonzero status (nvlab's own status stays 0).
  static void ReportShellStatus(const RunResult& result);
  Status CheckNotInterrupted(const char* where) const;

  const CliOptions& options_;
  LabSession lab_;
  WindowSizeWatch watch_;
  std::unique_ptr<Guest> guest_;
  Deadline deadline_ = Deadline::Never();  // the session's, as the LabSession's
};

Status ShellSession::CheckNotInterrupted(const char* where) const {
  if (const int sig = InterruptionSignal()) {
    return Status::Cancelled("interrupted by signal " + std::to_string(sig) + " " + where);
  }
  return Status::Ok();
}

Status ShellSession::Boot(StepResult* step, bool first) {
  const auto start = std::chrono::steady_clock::now();
  NVLAB_RETURN_IF_ERROR(guest_->Boot());
  step->boot_seconds = SecondsSince(start);
  const auto pmem = guest_->hello().find("NVLAB_PMEM");
  if (pmem != guest_->hello().end()) step->nvlab_pmem = pmem->second;
  std::cerr << "nvlab: shell on " << lab_.machine().name << " (NVLAB_PMEM=" << step->nvlab_pmem
            << ", boot " << BootSeconds(step->boot_seconds) << " s); ";
  if (options_.shell_power_cycle && first) {
    std::cerr << "nvlab-powercut cuts the power, and so does leaving the shell; a shell on "
                 "what survived follows\n";
  } else {
    std::cerr << "leave it with exit or ^D to power the guest off\n";
  }
  return Status::Ok();
}

Status ShellSession::Shell(StepResult* step) {
  PtyOpenRequest request;
  request.size = watch_.Current();
  request.term = TermName();
  (void)watch_.TakeChange();  // the size just read is the one the shell starts with
  TerminalChannel channel(&watch_);
  const auto start = std::chrono::steady_clock::now();
  Status s;
  {
    std::unique_ptr<TerminalRawMode> raw;
    NVLAB_RETURN_IF_ERROR(TerminalRawMode::Enter(STDIN_FILENO, &raw)
                              .WithContext("putting the terminal into raw mode"));
    s = guest_->RunShell(request, &channel, deadline_, &step->result);
  }
  step->command_seconds = SecondsSince(start);
  if (s.code() == Status::Code::kTimeout) {
    return Status::Timeout("--timeout " + std::to_string(options_.timeout_seconds) +
                           " s expired: " + s.message());
  }
  return s;
}

Status ShellSession::PowerOff() {
  return lab_.FinalPowerOff(guest_.get());
}

void ShellSession::ReportShellStatus(const RunResult& result) {
  if (result.status.signaled) {
    std::cerr << "nvlab: the shell was killed by signal " << result.status.value << "\n";
  } else if (result.status.value != 0) {
    std::cerr << "nvlab: the shell exited with status " << result.status.value << "\n";
  }
}

Status ShellSession::Run() {
  deadline_ = Deadline::In(std::chrono::seconds(lab_.options().timeout_seconds));
  GuestConfig config;
  NVLAB_RETURN_IF_ERROR(lab_.MakeGuestConfig(&config));
  // Without --timeout each boot still keeps run's default budget.
  config.boot_timeout = std::min<std::chrono::milliseconds>(
      config.boot_timeout, std::chrono::seconds(kDefaultTimeoutSeconds));
  NVLAB_RETURN_IF_ERROR(Guest::Create(std::move(config), &guest_));
  PowerCycleResult cycle;
  cycle.machine = lab_.machine().name;
  cycle.persistence = ToString(lab_.machine().persistence);
  cycle.model = lab_.model_enabled();
  cycle.on_cut = cycle.model ? options_.on_cut : "keep (no model)";
  if (options_.shell_power_cycle) guest_->StageNextRestore();

  NVLAB_RETURN_IF_ERROR(Boot(&cycle.before, /*first=*/true));
  NVLAB_RETURN_IF_ERROR(Shell(&cycle.before));
  if (!options_.shell_power_cycle) {
    if (cycle.before.result.cut_by_guest) {
      // A plain shell whose user cut the power: the guest is down; say what the cut did.
      NVLAB_RETURN_IF_ERROR(guest_->PowerCut(&cycle.cut));
      lab_.NameUserCode(&cycle.cut);
      std::cerr << "nvlab: the guest cut the power (nvlab shell --power-cycle boots again)\n"
                << CutSummary(cycle.cut, " ");
      return CheckNotInterrupted("after the power cut");
    }
    ReportShellStatus(cycle.before.result);
    return PowerOff();
  }
  // The cut: the guest's own, or the host's now that the user left the first shell.
  NVLAB_RETURN_IF_ERROR(guest_->PowerCut(&cycle.cut));
  lab_.NameUserCode(&cycle.cut);
  NVLAB_RETURN_IF_ERROR(CheckNotInterrupted("during the power cut"));
  // power-cycle's summary without its "after:" line, which the second shell has not given yet.
  const std::string summary = PowerCycleSummary(cycle);
  std::cerr << summary.substr(0, summary.rfind("nvlab:   after:"));
  NVLAB_RETURN_IF_ERROR(Boot(&cycle.after, /*first=*/false));
  NVLAB_RETURN_IF_ERROR(Shell(&cycle.after));
  if (cycle.after.result.cut_by_guest) {
    CutReport second;
    NVLAB_RETURN_IF_ERROR(guest_->PowerCut(&second));
    lab_.NameUserCode(&second);
    std::cerr << "nvlab:   after: cut the power itself (boot "
              << BootSeconds(cycle.after.boot_seconds) << " s)\n"
              << CutSummary(second, "   ");
    return CheckNotInterrupted("after the power cut");
  }
  std::cerr << "nvlab:   after: exit " << cycle.after.result.status.ShellStatus() << " (boot "
            << BootSeconds(cycle.after.boot_seconds) << " s)\n";
  return PowerOff();
}

}  // namespace

int RunShell(const CliOptions& options) {
  if (!isatty(STDIN_FILENO)) {
    std::cerr << "nvlab: nvlab shell needs a terminal on its standard input (scripts use nvlab "
                 "run or nvlab power-cycle) (try nvlab shell --help)\n";
    return 2;
  }
  ShellSession session(options);
  const Status s = session.Run();
  return s.ok() ? 0 : Failure(s);
}

}  // namespace nvlab
