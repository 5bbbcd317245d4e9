// window_size_watch.h -- WindowSizeWatch notices that the user's terminal changed size (SIGWINCH)
// while `nvlab shell` runs, and reads the size (TIOCGWINSZ) for the guest's pseudo-terminal.
//
// Life cycle: the constructor installs a SIGWINCH handler (without SA_RESTART, so the signal
// also breaks the relay's poll and the new size goes out at once); the destructor puts the
// previous handler back. One watch at a time per process: the handler sets a process-wide
// flag, the only state a signal handler may touch (a volatile sig_atomic_t).
//
// Thread-safety: use from one thread.

#ifndef NVLAB_WINDOW_SIZE_WATCH_H_
#define NVLAB_WINDOW_SIZE_WATCH_H_

#include <signal.h>

#include <optional>

#include "nvlab/pty_request.h"

namespace nvlab {

class WindowSizeWatch {
 public:
  explicit WindowSizeWatch(int fd);
  ~WindowSizeWatch();
  WindowSizeWatch(const WindowSizeWatch&) = delete;
  WindowSizeWatch& operator=(const WindowSizeWatch&) = delete;

  // Current is the terminal's size now: 24x80 when it says 0 (a terminal nobody sized) or
  // cannot say, each side at most kMaxPtyDimension.
  PtyWindowSize Current() const;
  // TakeChange returns the size when a SIGWINCH came since the last call, else nullopt.
  std::optional<PtyWindowSize> TakeChange();

 private:
  int fd_;
  struct sigaction previous_ {};
};

}  // namespace nvlab

#endif  // NVLAB_WINDOW_SIZE_WATCH_H_
