// agent_session_pty.cc -- AgentSession::RunPty: the host's relay of an interactive shell (nvlab
// shell) between a PtyChannel and the agent's pty frames.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "nvlab/agent_session.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

constexpr int kRoundMs = 100;
// kMaxQueued: request bytes waiting for the socket; beyond it the channel's input is not read
// (the user's terminal holds it) until the guest takes some.
constexpr size_t kMaxQueued = size_t{256} * 1024;

}  // namespace

Status AgentSession::RunPty(const PtyOpenRequest& request, PtyChannel* channel, Deadline deadline,
                            AgentRunOutcome* outcome) {
  *outcome = AgentRunOutcome();
  if (fd_ < 0) return Status::FailedPrecondition("not connected to the agent");
  const auto open = EncodePtyOpen(request);
  if (!open) return Status::InvalidArgument("pty-open: a window size or TERM is out of range");
  std::string queued = EncodeFrame(FrameType::kPtyOpen, *open);
  int input = channel->input_fd();
  char buf[65536];
  for (;;) {
    while (auto frame = decoder_.Next()) {
      switch (frame->type) {
        case FrameType::kPtyOutput:
          // An empty one is the agent's keep-alive.
          if (!frame->payload.empty()) channel->Output(frame->payload);
          break;
        case FrameType::kExit: {
          const auto status = DecodeExit(frame->payload);
          if (!status) return Status::ProtocolError("malformed exit frame from the agent");
          outcome->status = *status;
          return Status::Ok();
        }
        case FrameType::kError:
          return Status::IoError("the agent could not run the shell: " +
                                 EscapeUntrusted(frame->payload.substr(0, 300)));
        default:
          return Status::ProtocolError("unexpected frame from the agent during the shell");
      }
    }
    if (decoder_.failed()) return Status::ProtocolError("agent: " + decoder_.error());
    if (RunEnded(deadline, outcome)) return Status::Ok();
    if (const auto size = channel->TakeWindowSize()) {
      if (const auto payload = EncodePtyResize(*size)) {
        queued += EncodeFrame(FrameType::kPtyResize, *payload);
      }
    }
    const bool read_input = input >= 0 && queued.size() < kMaxQueued;
    pollfd fds[2] = {{fd_, static_cast<short>(POLLIN | (queued.empty() ? 0 : POLLOUT)), 0},
                     {read_input ? input : -1, POLLIN, 0}};
    // A signal (SIGWINCH) breaks the wait, so a resize goes out at once.
    poll(fds, 2, deadline.RemainingMs(kRoundMs));
    if (read_input && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t r = read(input, buf, kPtyInputChunk);
      if (r > 0) {
        queued += EncodeFrame(FrameType::kPtyInput, std::string_view(buf, static_cast<size_t>(r)));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        queued += EncodeFrame(FrameType::kPtyInput, "");  // the input ended: hang up
        input = -1;
      }
    }
    if (!queued.empty() && (fds[0].revents & POLLOUT) != 0) {
      const ssize_t w = send(fd_, queued.data(), queued.size(), MSG_NOSIGNAL);
      if (w > 0) queued.erase(0, static_cast<size_t>(w));
    }
    const ssize_t r = read(fd_, buf, sizeof(buf));
    if (r > 0) {
      last_received_ = std::chrono::steady_clock::now();
      decoder_.Feed(std::string_view(buf, static_cast<size_t>(r)));
    }
    if (r == 0) {
      // QEMU closed the socket: it is ending (a power cut from inside the shell, for one); the
      // next round asks whether it has.
      peer_closed_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace nvlab
