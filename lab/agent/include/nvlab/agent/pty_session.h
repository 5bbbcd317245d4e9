// File: nvlab/agent/pty_session.h
//
// The agent's side of `nvlab shell` (agent protocol frames pty-open, pty-input, pty-resize,
// pty-output; docs/formats/agent-protocol.md, "Interactive terminal"): an interactive shell on
// a real pseudo-terminal in the guest.
//
// RunPtySession mounts devpts at /dev/pts when nothing is mounted there (init does not: the
// batch commands of `nvlab run` need no terminal), opens a pty pair, sets its window size, and
// forks the shell: a new session (setsid) whose controlling terminal is the pty (TIOCSCTTY), so
// job control works and the line discipline turns the ^C the host passes through into SIGINT
// for the foreground process group. The shell is /bin/sh -i (busybox ash in nvlab's image) with
// the agent's environment (PATH with the guest tools, NVLAB_PMEM*), TERM from the request and
// PS1 "nvlab:\w\$ " unless one is set.
//
// Then it relays until the shell has ended and the terminal fell quiet: pty-input bytes to the
// pty (buffered, never blocking the relay), pty-resize to TIOCSWINSZ (the kernel signals
// SIGWINCH), the pty's output as pty-output frames (an empty one after each silent second: a
// keep-alive), and finally an exit frame with the shell's status. It reaps every child that
// ends meanwhile (the agent is PID 1).
//
// Life cycle: one call per pty-open frame, on the agent's only thread; it reads the host's
// frames through the agent's own decoder, so that bytes that followed the pty-open frame in
// the same read are not lost.

#ifndef NVLAB_AGENT_PTY_SESSION_H_
#define NVLAB_AGENT_PTY_SESSION_H_

#include <functional>
#include <string_view>

#include "nvlab/agent_frame.h"
#include "nvlab/pty_request.h"

namespace nvlab::agent {

// FrameSender writes one frame to the host; false when the port broke.
using FrameSender = std::function<bool(FrameType type, std::string_view payload)>;

// PtySessionEnd is how RunPtySession returned.
enum class PtySessionEnd {
  kShellEnded,   // the shell ended and its exit frame was sent (or an error frame said why the
                 // shell could not start): serve the next request
  kHostLeft,     // the host disconnected: the shell's session was killed, nothing was sent
  kPowerOff,     // the host asked for a power-off during the session
  kPortBroken,   // a write to the port failed
  kStreamBroken  // the host's byte stream was malformed (decoder->error() says how)
};

// RunPtySession runs one interactive shell for `request` over `port` (read here, written
// through `send`).
PtySessionEnd RunPtySession(int port, FrameDecoder* decoder, const PtyOpenRequest& request,
                            const FrameSender& send);

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_PTY_SESSION_H_
