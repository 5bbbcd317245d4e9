// File: nvlab/agent_session.h
//
// AgentSession is the host's end of one connection to nvlab-agent, the guest's command runner,
// over the unix socket behind the guest's "org.nvlab.agent" virtio-serial port
// (docs/formats/agent-protocol.md). Guest (a QEMU nvlab starts) and DomainGuest (a libvirt
// domain, lab/libvirt) both drive the agent through it; neither the session nor the protocol
// knows who started QEMU.
//
// Life cycle, once per boot or attachment:
//
//   AgentSession(machine_ended) -> Connect -> AwaitBootHello | RequestHello -> [Resume] ->
//   Run ... -> SendPowerOff (optional) -> Close (or destruction)
//
// AwaitBootHello is for a guest the host started paused: the agent's boot-time hello must be its
// first frame. RequestHello is for an agent that may have said hello to nobody long ago (a
// libvirt domain): it sends a hello-request with a fresh nonce and discards every frame before
// the hello that carries it.
//
// Every wait polls in rounds of at most 100 ms and ends early when the machine has ended (the
// MachineEnded callback the owner gives, asked once a round), the deadline passes, or the user
// interrupts nvlab (nvlab/interruption.h). The session never kills anything: it tells its owner
// why a wait ended, and the owner decides.
//
// Everything the agent sends is untrusted: frames are checked by FrameDecoder, hello values are
// escaped, an error frame's text is escaped and shortened.
//
// Thread-safety: one thread at a time per session.

#ifndef NVLAB_AGENT_SESSION_H_
#define NVLAB_AGENT_SESSION_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/agent_frame.h"
#include "nvlab/deadline.h"
#include "nvlab/pty_channel.h"
#include "nvlab/pty_request.h"
#include "nvlab/resume_request.h"
#include "nvlab/status.h"

namespace nvlab {

// OutputSink receives a command's output as it arrives, unchanged.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void Stdout(std::string_view bytes) = 0;
  virtual void Stderr(std::string_view bytes) = 0;
};

// AgentRunEnd is why AgentSession::Run stopped waiting.
enum class AgentRunEnd {
  kExited,        // the agent reported how the command ended (AgentRunOutcome::status)
  kMachineEnded,  // MachineEnded said the machine is gone before the command ended
  kDeadline,      // the deadline passed first
  kInterrupted,   // the user interrupted nvlab (AgentRunOutcome::signal)
};

struct AgentRunOutcome {
  AgentRunEnd end = AgentRunEnd::kExited;
  CommandStatus status;  // with kExited
  int signal = 0;        // with kInterrupted
};

class AgentSession {
 public:
  // MachineEnded says whether the machine behind the socket has ended (QEMU reaped, a domain
  // shut off). It is called once per wait round, so it should be cheap; peer_closed() tells it
  // whether QEMU closed the socket, which is when an expensive check is worth making.
  using MachineEnded = std::function<bool()>;

  explicit AgentSession(MachineEnded machine_ended);
  ~AgentSession();
  AgentSession(const AgentSession&) = delete;
  AgentSession& operator=(const AgentSession&) = delete;

  // Connect connects to the agent's unix socket, retrying while it does not exist or refuses
  // (QEMU has not opened it yet). GuestDied when the machine ends or the deadline passes first;
  // InvalidArgument when the path does not fit a unix socket address.
  Status Connect(const std::filesystem::path& socket, Deadline deadline);

  // AwaitBootHello waits for the agent's boot-time hello, which must be the first frame.
  // Timeout when the deadline passes (the caller says what it waited for), GuestDied when the
  // machine ends or closes the socket, Cancelled on an interruption, ProtocolError on bad frames.
  Status AwaitBootHello(Deadline deadline);

  // RequestHello sends a hello-request with a fresh random nonce and waits for the hello that
  // carries it; every frame before that one is discarded. Errors as AwaitBootHello.
  Status RequestHello(Deadline deadline);

  // Resume sends a resume request (nvlab/resume_request.h; its nonce is made here) to an agent
  // at the template stage and waits for the hello that answers it, which replaces hello().
  // IoError with the agent's (escaped) reason when it answers with an error frame; otherwise
  // errors as AwaitBootHello. InvalidArgument when a field is out of range.
  Status Resume(ResumeRequest request, Deadline deadline);

  // Run sends an exec request for argv and streams the command's output to sink until the agent
  // reports its end, or the machine ends, the deadline passes or the user interrupts nvlab
  // (*outcome says which; the status is OK in all four cases). Errors: InvalidArgument when argv
  // cannot be encoded (empty, a NUL byte, too long); IoError when the agent could not run it;
  // ProtocolError for a malformed or unexpected frame (stream_failed() says whether the byte
  // stream itself broke); FailedPrecondition when not connected.
  Status Run(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
             AgentRunOutcome* outcome);

  // RunRecorded is Run for a command that crash-state exploration records: the agent runs it
  // between the recording marks (agent protocol frame exec-recorded).
  Status RunRecorded(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
                     AgentRunOutcome* outcome);
  // RunPty asks the agent for an interactive shell on a pseudo-terminal (frame pty-open) and
  // relays until the shell ends: channel's input to the guest, the guest terminal's output to
  // the channel, each new window size (nvlab/pty_channel.h). Outcomes and errors as Run (the
  // status of kExited is the shell's).
  Status RunPty(const PtyOpenRequest& request, PtyChannel* channel, Deadline deadline,
                AgentRunOutcome* outcome);
  // DetachNvdimms and AttachNvdimms ask the agent to unmount the NVDIMMs' file systems and drop
  // their block caches, or to mount them again (frames detach-nvdimms, attach-nvdimms), around
  // the host's rewriting of the NVDIMM files. When the agent answers with an error (a crash
  // state whose file system does not mount), the status is OK and *refusal holds its escaped,
  // shortened reason; otherwise *refusal is empty. Other errors as AwaitBootHello.
  Status DetachNvdimms(Deadline deadline, std::string* refusal);
  Status AttachNvdimms(Deadline deadline, std::string* refusal);
  // SendPowerOff asks the agent to sync and power off; best effort (the caller waits for the
  // machine to end).
  void SendPowerOff();

  // Close disconnects (the agent resets its decoder and waits for the next host).
  void Close();

  bool connected() const { return fd_ >= 0; }
  // peer_closed: a read returned end-of-file (QEMU closed its end, normally because it ends).
  bool peer_closed() const { return peer_closed_; }
  // last_received: when a byte from the agent last arrived (Connect's time until one does). A
  // running command's agent sends a keep-alive each silent second, so an owner can tell a guest
  // that stopped (hung) from a command that is quiet: its MachineEnded may then say the machine
  // has ended (it gave up on it), and Run returns kMachineEnded.
  std::chrono::steady_clock::time_point last_received() const { return last_received_; }
  // stream_failed: the agent's byte stream was malformed; the session is unusable.
  bool stream_failed() const { return decoder_.failed(); }
  // hello holds what the agent said in its hello (NVLAB_PMEM, kernel, ...), values escaped; the
  // request= line of an answered hello-request is not kept.
  const std::map<std::string, std::string>& hello() const { return hello_; }

 private:
  // WaitForHello waits for a hello; with a nonce it skips frames until the hello carrying it
  // (with errors_end, an error frame ends the wait with its text instead).
  // `during` ends the message of an interruption ("during boot").
  Status WaitForHello(Deadline deadline, std::string_view nonce, std::string_view during,
                      bool errors_end = false);
  // RunFrame sends an exec or exec-recorded request and streams its answer (Run's contract).
  Status RunFrame(FrameType type, const std::vector<std::string>& argv, OutputSink* sink,
                  Deadline deadline, AgentRunOutcome* outcome);
  // NvdimmRequest sends a detach-nvdimms or attach-nvdimms request and waits for its answer.
  Status NvdimmRequest(FrameType type, Deadline deadline, std::string* refusal);
  // SendAll writes bytes within the deadline (the socket is non-blocking).
  Status SendAll(std::string_view bytes, Deadline deadline);
  // RunEnded says whether a running command's wait must end without the agent's answer (QEMU
  // ended, the deadline passed, the user interrupted), and sets outcome->end (and signal) if so.
  bool RunEnded(Deadline deadline, AgentRunOutcome* outcome) const;

  MachineEnded machine_ended_;
  int fd_ = -1;
  bool peer_closed_ = false;
  std::chrono::steady_clock::time_point last_received_ = std::chrono::steady_clock::now();
  FrameDecoder decoder_;
  std::map<std::string, std::string> hello_;
};

// MakeHelloNonce returns a fresh nonce for a hello-request: 32 random hex digits.
std::string MakeHelloNonce();

}  // namespace nvlab

#endif  // NVLAB_AGENT_SESSION_H_
