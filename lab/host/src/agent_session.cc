// agent_session.cc -- AgentSession: connect, hello, run a command, power off.

#include "nvlab/agent_session.h"

#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <utility>

#include "nvlab/interruption.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

constexpr int kRoundMs = 100;

// ParseHello reads "KEY=VALUE\n" lines into *values (escaped) and the raw request= value into
// *request. False when a line is malformed.
bool ParseHello(const std::string& payload, std::map<std::string, std::string>* values,
                std::string* request) {
  std::istringstream lines(payload);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0 || eq > 64) return false;
    const std::string key = line.substr(0, eq);
    if (key == kHelloRequestKey) {
      *request = line.substr(eq + 1);
      continue;
    }
    (*values)[key] = EscapeUntrusted(line.substr(eq + 1));
  }
  return true;
}

}  // namespace

std::string MakeHelloNonce() {
  unsigned char bytes[16] = {};
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      break;  // No entropy source: the clock still tells one nvlab from the next.
    }
  }
  std::string nonce;
  if (got < sizeof(bytes)) {
    nonce = std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "-" +
            std::to_string(getpid());
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < got; ++i) {
    nonce.push_back(kDigits[bytes[i] >> 4]);
    nonce.push_back(kDigits[bytes[i] & 15]);
  }
  return nonce.substr(0, kMaxHelloNonce);
}

AgentSession::AgentSession(MachineEnded machine_ended) : machine_ended_(std::move(machine_ended)) {}

AgentSession::~AgentSession() {
  Close();
}

void AgentSession::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status AgentSession::Connect(const std::filesystem::path& socket_path, Deadline deadline) {
  Close();
  peer_closed_ = false;
  hello_.clear();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket_path.string();
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("the agent socket path " + path + " is longer than " +
                                   std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (;;) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return Status::IoErrorFromErrno("socket", errno);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) break;
    const int err = errno;
    Close();
    if (err != ENOENT && err != ECONNREFUSED) return Status::IoErrorFromErrno("agent connect", err);
    if (deadline.expired() || machine_ended_()) {
      return Status::GuestDied("QEMU did not open the agent socket");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  decoder_ = FrameDecoder();
  last_received_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status AgentSession::SendAll(std::string_view bytes, Deadline deadline) {
  while (!bytes.empty()) {
    const ssize_t w = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (w > 0) {
      bytes.remove_prefix(static_cast<size_t>(w));
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
      return Status::IoErrorFromErrno("writing to the agent socket", errno);
    }
    if (deadline.expired()) return Status::Timeout("the agent socket did not take a request");
    pollfd p{fd_, POLLOUT, 0};
    poll(&p, 1, deadline.RemainingMs(kRoundMs));
  }
  return Status::Ok();
}

Status AgentSession::AwaitBootHello(Deadline deadline) {
  return WaitForHello(deadline, "", "during boot");
}

Status AgentSession::RequestHello(Deadline deadline) {
  if (fd_ < 0) return Status::FailedPrecondition("not connected to the agent");
  const std::string nonce = MakeHelloNonce();
  const auto payload = EncodeHelloRequest(nonce);
  if (!payload) return Status::InvalidArgument("bad hello-request nonce");  // cannot happen
  NVLAB_RETURN_IF_ERROR(SendAll(EncodeFrame(FrameType::kHelloRequest, *payload), deadline));
  return WaitForHello(deadline, nonce, "while waiting for the agent's hello");
}

Status AgentSession::Resume(ResumeRequest request, Deadline deadline) {
  if (fd_ < 0) return Status::FailedPrecondition("not connected to the agent");
  request.nonce = MakeHelloNonce();
  const auto payload = EncodeResumeRequest(request);
  if (!payload) return Status::InvalidArgument("resume request: a setting is out of range");
  NVLAB_RETURN_IF_ERROR(SendAll(EncodeFrame(FrameType::kResume, *payload), deadline));
  return WaitForHello(deadline, request.nonce, "while the guest set its NVDIMMs up", true);
}

Status AgentSession::WaitForHello(Deadline deadline, std::string_view nonce,
                                  std::string_view during, bool errors_end) {
  hello_.clear();
  for (;;) {
    if (auto frame = decoder_.Next()) {
      if (errors_end && frame->type == FrameType::kError) {
        std::string text = frame->payload.substr(0, 300);
        return Status::IoError("the guest agent says: " + EscapeUntrusted(text));
      }
      if (frame->type != FrameType::kHello) {
        // A host that asked with a nonce skips what was queued before the answer (a command's
        // output the last host left unread, for example).
        if (!nonce.empty()) continue;
        return Status::ProtocolError("the agent spoke before saying hello");
      }
      std::map<std::string, std::string> values;
      std::string request;
      if (!ParseHello(frame->payload, &values, &request)) {
        return Status::ProtocolError("malformed hello line from the agent");
      }
      if (request != nonce) continue;  // a boot-time hello, or an answer to another host
      hello_ = std::move(values);
      return Status::Ok();
    }
    if (decoder_.failed()) return Status::ProtocolError("agent: " + decoder_.error());
    if (machine_ended_()) return Status::GuestDied("QEMU ended before the guest was ready");
    if (const int sig = InterruptionSignal()) {
      return Status::Cancelled("interrupted by signal " + std::to_string(sig) + " " +
                               std::string(during));
    }
    if (deadline.expired()) return Status::Timeout("the agent did not say hello");
    pollfd p{fd_, POLLIN, 0};
    poll(&p, 1, deadline.RemainingMs(kRoundMs));
    char buf[4096];
    const ssize_t r = read(fd_, buf, sizeof(buf));
    if (r > 0) {
      last_received_ = std::chrono::steady_clock::now();
      decoder_.Feed(std::string_view(buf, static_cast<size_t>(r)));
    }
    if (r == 0) {
      peer_closed_ = true;
      return Status::GuestDied("QEMU closed the agent socket");
    }
  }
}

Status AgentSession::Run(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
                         AgentRunOutcome* outcome) {
  return RunFrame(FrameType::kExec, argv, sink, deadline, outcome);
}

Status AgentSession::RunRecorded(const std::vector<std::string>& argv, OutputSink* sink,
                                 Deadline deadline, AgentRunOutcome* outcome) {
  return RunFrame(FrameType::kExecRecorded, argv, sink, deadline, outcome);
}

Status AgentSession::DetachNvdimms(Deadline deadline, std::string* refusal) {
  return NvdimmRequest(FrameType::kDetachNvdimms, deadline, refusal);
}

Status AgentSession::AttachNvdimms(Deadline deadline, std::string* refusal) {
  return NvdimmRequest(FrameType::kAttachNvdimms, deadline, refusal);
}

Status AgentSession::NvdimmRequest(FrameType type, Deadline deadline, std::string* refusal) {
  refusal->clear();
  if (fd_ < 0) return Status::FailedPrecondition("not connected to the agent");
  const char* what =
      type == FrameType::kDetachNvdimms ? "detach the NVDIMMs" : "attach the NVDIMMs";
  NVLAB_RETURN_IF_ERROR(SendAll(EncodeFrame(type, ""), deadline));
  char buf[4096];
  for (;;) {
    if (auto frame = decoder_.Next()) {
      if (frame->type == FrameType::kError) {
        *refusal = EscapeUntrusted(frame->payload.substr(0, 300));
        return Status::Ok();
      }
      if (frame->type != FrameType::kExit || frame->payload != EncodeExit({})) {
        return Status::ProtocolError(std::string("unexpected answer from the agent to ") + what);
      }
      return Status::Ok();
    }
    if (decoder_.failed()) return Status::ProtocolError("agent: " + decoder_.error());
    if (machine_ended_()) return Status::GuestDied(std::string("QEMU ended during ") + what);
    if (const int sig = InterruptionSignal()) {
      return Status::Cancelled("interrupted by signal " + std::to_string(sig));
    }
    if (deadline.expired()) {
      return Status::Timeout(std::string("the agent did not answer the request to ") + what);
    }
    pollfd p{fd_, POLLIN, 0};
    poll(&p, 1, deadline.RemainingMs(kRoundMs));
    const ssize_t r = read(fd_, buf, sizeof(buf));
    if (r > 0) decoder_.Feed(std::string_view(buf, static_cast<size_t>(r)));
    if (r == 0) {
      peer_closed_ = true;
      return Status::GuestDied(std::string("QEMU closed the agent socket during ") + what);
    }
  }
}

bool AgentSession::RunEnded(Deadline deadline, AgentRunOutcome* outcome) const {
  if (machine_ended_()) {
    outcome->end = AgentRunEnd::kMachineEnded;
    return true;
  }
  if (deadline.expired()) {
    outcome->end = AgentRunEnd::kDeadline;
    return true;
  }
  if (const int sig = InterruptionSignal()) {
    outcome->end = AgentRunEnd::kInterrupted;
    outcome->signal = sig;
    return true;
  }
  return false;
}

Status AgentSession::RunFrame(FrameType type, const std::vector<std::string>& argv,
                              OutputSink* sink, Deadline deadline, AgentRunOutcome* outcome) {
  *outcome = AgentRunOutcome();
  if (fd_ < 0) return Status::FailedPrecondition("not connected to the agent");
  const auto payload = EncodeExec(argv);
  if (!payload) return Status::InvalidArgument("command is empty, too long or holds a NUL byte");
  const std::string request = EncodeFrame(type, *payload);
  size_t sent = 0;
  char buf[65536];
  for (;;) {
    while (auto frame = decoder_.Next()) {
      switch (frame->type) {
        case FrameType::kStdout:
          // An empty one is the agent's keep-alive (a silent command), not output.
          if (!frame->payload.empty()) sink->Stdout(frame->payload);
          break;
        case FrameType::kStderr:
          sink->Stderr(frame->payload);
          break;
        case FrameType::kExit: {
          auto status = DecodeExit(frame->payload);
          if (!status) return Status::ProtocolError("malformed exit frame from the agent");
          outcome->status = *status;
          return Status::Ok();
        }
        case FrameType::kError:
          return Status::IoError("the agent could not run the command: " +
                                 EscapeUntrusted(frame->payload.substr(0, 300)));
        default:
          return Status::ProtocolError("unexpected frame from the agent");
      }
    }
    if (decoder_.failed()) return Status::ProtocolError("agent: " + decoder_.error());
    if (RunEnded(deadline, outcome)) return Status::Ok();
    pollfd p{fd_, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    poll(&p, 1, deadline.RemainingMs(kRoundMs));
    if (sent < request.size() && (p.revents & POLLOUT)) {
      const ssize_t w = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (w > 0) sent += static_cast<size_t>(w);
    }
    const ssize_t r = read(fd_, buf, sizeof(buf));
    if (r > 0) {
      last_received_ = std::chrono::steady_clock::now();
      decoder_.Feed(std::string_view(buf, static_cast<size_t>(r)));
    }
    if (r == 0) {
      // QEMU closed the socket: it is ending; the next round asks whether it has.
      peer_closed_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

void AgentSession::SendPowerOff() {
  if (fd_ < 0) return;
  const std::string frame = EncodeFrame(FrameType::kPowerOff, "");
  (void)send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL);
}

}  // namespace nvlab
