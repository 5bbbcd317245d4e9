// File: nvlab/libvirt/domain_guest.h
//
// A DomainGuest is a libvirt domain that nvlab drives: the counterpart of Guest (nvlab/guest.h)
// for a machine that libvirt starts and that outlives each nvlab invocation. The domain must
// have been defined in nvlab's shape (nvlab/libvirt/domain_description.h); nvlab reads its live
// XML for the agent channel, the plugin's control socket and report file, and the console file.
// Its life cycle:
//
//   DomainGuest::Attach (the domain runs) -> Run ... -> PowerCut -> Boot -> Run ... -> (end)
//
// Attach never starts a domain and nvlab never stops one except by PowerCut: what nvlab found
// running it leaves running. A command that outlives --timeout, or an interrupted nvlab, leaves
// the domain running (the command may still run in it; the agent answers the next nvlab once it
// has ended). The agent is reached with a hello-request, so whichever hello the agent said
// before (at boot, to nobody) does not matter.
//
// PowerCut is the same hard stop as Guest's: virDomainSuspend freezes the vCPUs, the persistence
// model settles the NVDIMMs ("cut" on its control socket), virDomainDestroy ends QEMU, and the
// model's report is read (a stale one is removed first). Boot is virDomainCreate, then the agent.
//
// Thread-safety: one thread at a time per DomainGuest.

#ifndef NVLAB_LIBVIRT_DOMAIN_GUEST_H_
#define NVLAB_LIBVIRT_DOMAIN_GUEST_H_

#include <chrono>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "nvlab/agent_session.h"
#include "nvlab/cut_report.h"
#include "nvlab/deadline.h"
#include "nvlab/guest.h"
#include "nvlab/libvirt/domain_description.h"
#include "nvlab/libvirt/libvirt_connection.h"
#include "nvlab/libvirt/libvirt_domain.h"
#include "nvlab/status.h"

namespace nvlab {

struct DomainGuestConfig {
  std::string uri;   // libvirt URI (--connect); empty: libvirt's default
  std::string name;  // the domain's name (--domain)
  std::chrono::milliseconds boot_timeout{60000};
  // power_cut: the caller will cut the power, so Attach also requires RequirePowerCut's pieces
  // (before anything runs in the domain).
  bool power_cut = false;
  std::ostream* log = nullptr;  // -v: progress lines
};

class DomainGuest {
 public:
  // Attach connects to libvirt, finds the domain, requires it to have the agent channel (and
  // with power_cut what a cut needs) and to run, connects to the agent and exchanges hellos, all
  // within `deadline`. NotFound when there is no such domain, FailedPrecondition when it lacks a
  // piece or is not running (in that order: a definition nvlab cannot use is named first),
  // Timeout when the agent does not answer (another nvlab may be connected to it).
  static Status Attach(DomainGuestConfig config, Deadline deadline,
                       std::unique_ptr<DomainGuest>* out);
  DomainGuest(const DomainGuest&) = delete;
  DomainGuest& operator=(const DomainGuest&) = delete;

  // Run is Guest::Run on the domain. When the domain ends while the command runs and the model
  // wrote a report, the command cut the power itself (result->cut_by_guest; the domain is then
  // shut off until Boot). Timeout and Cancelled leave the domain running.
  Status Run(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
             RunResult* result);

  // PowerCut cuts the power (see the file comment); after a cut the guest triggered it only
  // reads the report. Needs RequirePowerCut's pieces. A failed cut still destroys the domain.
  Status PowerCut(CutReport* report);

  // Boot starts the domain and waits (boot_timeout) for its agent; the error carries the console
  // tail.
  Status Boot();

  const DomainDescription& description() const { return description_; }
  // hello is what the agent said in answer to the hello-request: NVLAB_PMEM, kernel, ...
  const std::map<std::string, std::string>& hello() const { return agent_.hello(); }
  // ConsoleTail: the last lines of the domain's console file (escaped); empty without one.
  std::string ConsoleTail(int lines = 20) const;

 private:
  explicit DomainGuest(DomainGuestConfig config);
  // ReadDescription reads and parses the live XML and requires the agent channel.
  Status ReadDescription();
  // ConnectAgent connects to the channel (by connect_deadline) and exchanges hellos
  // (hello-request, by deadline).
  Status ConnectAgent(Deadline connect_deadline, Deadline deadline);
  // MachineEnded asks libvirt whether the domain still runs: at once when QEMU closed the agent
  // socket, else at most once a second (each call is a round trip to the daemon).
  bool MachineEnded();
  Status RemoveStaleReport() const;
  // ReadSyncedCutReport reads the model's report and fails when its NVDIMM sync failed.
  Status ReadSyncedCutReport(CutReport* report);
  // LabFailure adds the console tail to a failure, keeping its code.
  Status LabFailure(const Status& status) const;
  void Log(const std::string& line) const;

  DomainGuestConfig config_;
  LibvirtConnection connection_;
  LibvirtDomain domain_;
  DomainDescription description_;
  AgentSession agent_{[this] { return MachineEnded(); }};
  std::chrono::steady_clock::time_point next_state_check_{};
  Status state_error_;  // why libvirt could not say whether the domain runs
  bool cut_pending_report_ = false;
};

}  // namespace nvlab

#endif  // NVLAB_LIBVIRT_DOMAIN_GUEST_H_
