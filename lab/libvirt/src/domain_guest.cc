// domain_guest.cc -- DomainGuest: a libvirt domain driven through its agent and its model.

#include "nvlab/libvirt/domain_guest.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "nvlab/console_tail.h"
#include "nvlab/model_control.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

// kAttachConnectTime bounds connecting to the channel of a domain that already runs: its socket
// exists, so anything longer means it never will.
constexpr std::chrono::seconds kAttachConnectTime{10};
constexpr std::chrono::seconds kStateCheckInterval{1};
constexpr std::chrono::seconds kCutTime{60};

Status WithCode(Status::Code code, const std::string& message) {
  switch (code) {
    case Status::Code::kTimeout:
      return Status::Timeout(message);
    case Status::Code::kGuestDied:
      return Status::GuestDied(message);
    case Status::Code::kProtocolError:
      return Status::ProtocolError(message);
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(message);
    case Status::Code::kNotFound:
      return Status::NotFound(message);
    case Status::Code::kFailedPrecondition:
      return Status::FailedPrecondition(message);
    case Status::Code::kCancelled:
      return Status::Cancelled(message);
    default:
      return Status::IoError(message);
  }
}

}  // namespace

DomainGuest::DomainGuest(DomainGuestConfig config) : config_(std::move(config)) {}

void DomainGuest::Log(const std::string& line) const {
  if (config_.log != nullptr) *config_.log << "nvlab: " << line << "\n" << std::flush;
}

std::string DomainGuest::ConsoleTail(int lines) const {
  if (description_.console_log.empty()) return "";
  return ReadConsoleTail(description_.console_log, lines);
}

Status DomainGuest::LabFailure(const Status& status) const {
  std::string detail;
  if (description_.console_log.empty()) {
    detail = "\n(the domain has no console file)";
  } else {
    const std::string tail = ConsoleTail(15);
    detail =
        tail.empty() ? "\n(the guest console is empty)" : "\nguest console (last lines):\n" + tail;
  }
  return WithCode(status.code(), status.message() + detail);
}

bool DomainGuest::MachineEnded() {
  const auto now = std::chrono::steady_clock::now();
  if (!agent_.peer_closed() && now < next_state_check_) return false;
  next_state_check_ = now + kStateCheckInterval;
  bool active = true;
  state_error_ = domain_.IsActive(&active);
  return !state_error_.ok() || !active;
}

Status DomainGuest::ReadDescription() {
  std::string xml;
  NVLAB_RETURN_IF_ERROR(domain_.LiveXml(&xml));
  const Status s = ParseNvlabDomain(xml, &description_);
  if (!s.ok()) {
    return s.WithContext("the libvirt domain " + EscapeUntrusted(config_.name));
  }
  return RequireAgentChannel(description_);
}

Status DomainGuest::ConnectAgent(Deadline connect_deadline, Deadline deadline) {
  const std::string name = EscapeUntrusted(config_.name);
  Status s = agent_.Connect(description_.agent_socket, connect_deadline);
  if (!s.ok()) {
    return WithCode(s.code(), "cannot connect to the agent channel of the libvirt domain " + name +
                                  " at " + EscapeUntrusted(description_.agent_socket) + ": " +
                                  s.message());
  }
  s = agent_.RequestHello(deadline);
  if (s.code() == Status::Code::kTimeout) {
    return Status::Timeout("the agent of the libvirt domain " + name +
                           " did not answer (is the guest still booting, or is another nvlab "
                           "connected to it?)");
  }
  return s.ok() ? s : s.WithContext("the libvirt domain " + name);
}

Status DomainGuest::Attach(DomainGuestConfig config, Deadline deadline,
                           std::unique_ptr<DomainGuest>* out) {
  std::unique_ptr<DomainGuest> guest(new DomainGuest(std::move(config)));
  const DomainGuestConfig& c = guest->config_;
  NVLAB_RETURN_IF_ERROR(LibvirtConnection::Open(c.uri, &guest->connection_));
  NVLAB_RETURN_IF_ERROR(LibvirtDomain::Lookup(guest->connection_, c.name, &guest->domain_));
  // The definition first: a domain that nvlab cannot use is named as such, running or not.
  NVLAB_RETURN_IF_ERROR(guest->ReadDescription());
  if (c.power_cut) NVLAB_RETURN_IF_ERROR(RequirePowerCut(guest->description_));
  bool active = false;
  NVLAB_RETURN_IF_ERROR(guest->domain_.IsActive(&active));
  if (!active) {
    return Status::FailedPrecondition("the libvirt domain " + EscapeUntrusted(c.name) +
                                      " is not running (start it: virsh start " +
                                      EscapeUntrusted(c.name) + ")");
  }
  // Re-read: the live XML of a running domain is what QEMU was started with.
  NVLAB_RETURN_IF_ERROR(guest->ReadDescription());
  if (c.power_cut) NVLAB_RETURN_IF_ERROR(RequirePowerCut(guest->description_));
  guest->Log("domain " + c.name + " on " + guest->connection_.uri() + ": agent channel " +
             guest->description_.agent_socket);
  NVLAB_RETURN_IF_ERROR(
      guest->ConnectAgent(deadline.Earlier(Deadline::In(kAttachConnectTime)), deadline));
  *out = std::move(guest);
  return Status::Ok();
}

Status DomainGuest::RemoveStaleReport() const {
  if (description_.plugin.report.empty()) return Status::Ok();
  if (unlink(description_.plugin.report.c_str()) != 0 && errno != ENOENT) {
    return Status::IoErrorFromErrno(
        "cannot remove the old cut report " + EscapeUntrusted(description_.plugin.report), errno);
  }
  return Status::Ok();
}

Status DomainGuest::Run(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
                        RunResult* result) {
  *result = RunResult();
  if (!agent_.connected()) return Status::FailedPrecondition("the domain's agent is not connected");
  // A report present when the domain ends must be this command's cut.
  NVLAB_RETURN_IF_ERROR(RemoveStaleReport());
  AgentRunOutcome outcome;
  Status s = agent_.Run(argv, sink, deadline, &outcome);
  if (s.code() == Status::Code::kInvalidArgument) return s;
  if (!s.ok()) {
    if (agent_.stream_failed()) agent_.Close();
    return LabFailure(s);
  }
  const std::string name = EscapeUntrusted(config_.name);
  switch (outcome.end) {
    case AgentRunEnd::kExited:
      result->status = outcome.status;
      return Status::Ok();
    case AgentRunEnd::kMachineEnded:
      agent_.Close();
      if (!state_error_.ok()) return LabFailure(state_error_);
      if (description_.plugin.present && !description_.plugin.report.empty() &&
          std::filesystem::exists(description_.plugin.report)) {
        result->cut_by_guest = true;
        cut_pending_report_ = true;
        return Status::Ok();
      }
      return LabFailure(
          Status::GuestDied("the libvirt domain " + name + " shut off while the command ran"));
    case AgentRunEnd::kDeadline:
      agent_.Close();
      return LabFailure(
          Status::Timeout("the command was still running at the deadline; the libvirt domain " +
                          name + " keeps running (the command may too)"));
    case AgentRunEnd::kInterrupted:
      agent_.Close();
      return Status::Cancelled("interrupted by signal " + std::to_string(outcome.signal) +
                               " while the command ran; the libvirt domain " + name +
                               " keeps running (the command may too)");
  }
  return Status::Ok();
}

Status DomainGuest::PowerCut(CutReport* report) {
  *report = CutReport();
  if (cut_pending_report_) {
    cut_pending_report_ = false;
    return ReadSyncedCutReport(report);
  }
  NVLAB_RETURN_IF_ERROR(RequirePowerCut(description_));
  NVLAB_RETURN_IF_ERROR(RemoveStaleReport());
  const Deadline deadline = Deadline::In(kCutTime);
  Status s = domain_.Suspend();
  if (s.ok()) s = RequestModelCut(description_.plugin.control, deadline);
  agent_.Close();
  // Destroyed even when the cut failed, as Guest kills QEMU: a half-cut domain must not go on.
  const Status destroyed = domain_.Destroy();
  if (!s.ok()) return LabFailure(s.WithContext("power cut"));
  if (!destroyed.ok()) return destroyed.WithContext("power cut");
  Log("power cut: domain " + config_.name + " suspended, cut and destroyed");
  return ReadSyncedCutReport(report);
}

// ReadSyncedCutReport reads the model's report; a cut whose NVDIMM files could not be synced is
// a lab failure, as for a guest nvlab starts itself (nvlab/cut_report.h, CheckCutSynced).
Status DomainGuest::ReadSyncedCutReport(CutReport* report) {
  NVLAB_RETURN_IF_ERROR(ReadCutReportFile(description_.plugin.report, report));
  if (Status synced = CheckCutSynced(*report); !synced.ok()) {
    *report = CutReport();
    return LabFailure(synced);
  }
  return Status::Ok();
}

Status DomainGuest::Boot() {
  bool active = false;
  NVLAB_RETURN_IF_ERROR(domain_.IsActive(&active));
  if (active) {
    return Status::FailedPrecondition("the libvirt domain " + EscapeUntrusted(config_.name) +
                                      " is already running");
  }
  cut_pending_report_ = false;
  NVLAB_RETURN_IF_ERROR(domain_.Create());
  const Deadline deadline = Deadline::In(config_.boot_timeout);
  next_state_check_ = std::chrono::steady_clock::now() + kStateCheckInterval;
  Status s = ReadDescription();
  if (s.ok()) s = ConnectAgent(deadline, deadline);
  if (s.code() == Status::Code::kTimeout) {
    s = Status::Timeout("the libvirt domain " + EscapeUntrusted(config_.name) +
                        " did not become ready within " +
                        std::to_string(config_.boot_timeout.count() / 1000) + " s");
  }
  if (!s.ok()) return LabFailure(s);
  const auto pmem = agent_.hello().find("NVLAB_PMEM");
  Log("domain " + config_.name +
      " booted, NVLAB_PMEM=" + (pmem == agent_.hello().end() ? std::string() : pmem->second));
  return Status::Ok();
}

}  // namespace nvlab
