// terminal_raw_mode.cc -- TerminalRawMode: raw mode in, the saved settings back out.

#include "terminal_raw_mode.h"

#include <unistd.h>

#include <cerrno>

namespace nvlab {

Status TerminalRawMode::Enter(int fd, std::unique_ptr<TerminalRawMode>* out) {
  if (!isatty(fd)) return Status::FailedPrecondition("not a terminal");
  termios saved{};
  if (tcgetattr(fd, &saved) != 0) return Status::IoErrorFromErrno("tcgetattr", errno);
  termios raw = saved;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  // Restored by the destructor from here on, even if the switch below half-applied.
  out->reset(new TerminalRawMode(fd, saved));
  while (tcsetattr(fd, TCSANOW, &raw) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    out->reset();
    return Status::IoErrorFromErrno("tcsetattr", err);
  }
  return Status::Ok();
}

TerminalRawMode::~TerminalRawMode() {
  while (tcsetattr(fd_, TCSADRAIN, &saved_) != 0 && errno == EINTR) {
  }
}

}  // namespace nvlab
