// terminal_raw_mode.h -- TerminalRawMode puts the user's terminal into raw mode for `nvlab
// shell` and gives it back as it found it.
//
// In raw mode the host's line discipline does nothing: every byte typed (^C, ^Z, ^D, arrow
// keys) goes to the guest's pseudo-terminal as it is, whose own line discipline then does what
// a terminal does (^C: SIGINT to the guest's foreground process group), and the guest's output
// is shown unchanged (the guest's pty already turns "\n" into "\r\n").
//
// Life cycle: Enter saves the settings and switches; the destructor restores the saved
// settings (TCSADRAIN: after what was written), on every way out of the scope: a normal end,
// an error status, the guest's death, an exception, or an interruption (nvlab's SIGINT, SIGTERM
// and SIGHUP handlers only set a flag, so the scope is left normally). Keep the scope to the
// time the guest's shell runs: nvlab's own messages are printed with the terminal restored.
//
// Thread-safety: one object per terminal, used by one thread.

#ifndef NVLAB_TERMINAL_RAW_MODE_H_
#define NVLAB_TERMINAL_RAW_MODE_H_

#include <termios.h>

#include <memory>

#include "nvlab/status.h"

namespace nvlab {

class TerminalRawMode {
 public:
  // Enter switches terminal `fd` to raw mode. FailedPrecondition when fd is not a terminal,
  // IoError when its settings cannot be read or changed.
  static Status Enter(int fd, std::unique_ptr<TerminalRawMode>* out);
  ~TerminalRawMode();
  TerminalRawMode(const TerminalRawMode&) = delete;
  TerminalRawMode& operator=(const TerminalRawMode&) = delete;

 private:
  TerminalRawMode(int fd, const termios& saved) : fd_(fd), saved_(saved) {}
  int fd_;
  termios saved_;
};

}  // namespace nvlab

#endif  // NVLAB_TERMINAL_RAW_MODE_H_
