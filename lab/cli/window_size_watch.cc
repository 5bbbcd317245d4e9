// window_size_watch.cc -- WindowSizeWatch: SIGWINCH sets a flag, TakeChange reads the size.

#include "window_size_watch.h"

#include <sys/ioctl.h>

#include <algorithm>

namespace nvlab {
namespace {

// Set by the SIGWINCH handler, cleared by TakeChange: a signal handler's only safe state.
volatile sig_atomic_t g_window_changed = 0;

void OnWindowChange(int /*signal*/) {
  g_window_changed = 1;
}

}  // namespace

WindowSizeWatch::WindowSizeWatch(int fd) : fd_(fd) {
  g_window_changed = 0;
  struct sigaction action {};
  action.sa_handler = OnWindowChange;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: the relay's poll returns at once
  sigaction(SIGWINCH, &action, &previous_);
}

WindowSizeWatch::~WindowSizeWatch() {
  sigaction(SIGWINCH, &previous_, nullptr);
}

PtyWindowSize WindowSizeWatch::Current() const {
  winsize ws{};
  PtyWindowSize size;
  if (ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
    size.rows = std::min<int>(ws.ws_row, kMaxPtyDimension);
    size.cols = std::min<int>(ws.ws_col, kMaxPtyDimension);
  }
  return size;
}

std::optional<PtyWindowSize> WindowSizeWatch::TakeChange() {
  if (g_window_changed == 0) return std::nullopt;
  g_window_changed = 0;
  return Current();
}

}  // namespace nvlab
