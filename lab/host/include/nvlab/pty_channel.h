// File: nvlab/pty_channel.h
//
// PtyChannel is the host's end of an interactive terminal in the guest (nvlab shell): where the
// bytes the user types come from, where the guest terminal's bytes go, and when the window
// size changed. AgentSession::RunPty (nvlab/agent_session.h) drives it; the command's
// implementation (lab/cli/shell_command.cc) puts the user's terminal behind it, tests can put
// pipes.
//
// Life cycle: owned by the caller, used for one RunPty call. Thread-safety: called from the
// thread that runs RunPty only.

#ifndef NVLAB_PTY_CHANNEL_H_
#define NVLAB_PTY_CHANNEL_H_

#include <optional>
#include <string_view>

#include "nvlab/pty_request.h"

namespace nvlab {

class PtyChannel {
 public:
  virtual ~PtyChannel() = default;
  // input_fd is polled for input; RunPty reads what it holds and sends it to the guest as it
  // is. End of file (or a read error) ends the input: the guest's terminal is hung up.
  virtual int input_fd() const = 0;
  // Output receives the guest terminal's bytes, unchanged (they are the user's to see).
  virtual void Output(std::string_view bytes) = 0;
  // TakeWindowSize returns the window size when it changed since the last call, else nullopt.
  // RunPty asks once per round (at most 100 ms apart) and at once when a signal broke its wait.
  virtual std::optional<PtyWindowSize> TakeWindowSize() = 0;
};

}  // namespace nvlab

#endif  // NVLAB_PTY_CHANNEL_H_
