// pty_session.cc -- RunPtySession: an interactive shell on a pseudo-terminal, relayed over the
// agent port.

#include "nvlab/agent/pty_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

namespace nvlab::agent {
namespace {

// kMaxPendingInput: typed bytes the shell has not taken yet; beyond it the agent stops reading
// the port until the pty takes some (the host then waits: no byte is dropped).
constexpr size_t kMaxPendingInput = size_t{64} * 1024;
constexpr int kKeepAliveMs = 1000;
// kDrainMs: after the shell ended, how long the terminal may stay quiet before the session
// ends (its last output reaches the host first).
constexpr int kDrainMs = 200;

std::string Errno(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// EnsureDevpts mounts devpts at /dev/pts unless one is there.
std::string EnsureDevpts() {
  if (access("/dev/pts/ptmx", F_OK) == 0) return "";
  (void)mkdir("/dev/pts", 0755);
  if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666") !=
      0) {
    return Errno("mount devpts on /dev/pts");
  }
  return "";
}

// OpenPty opens a pty pair's master (non-blocking) and names its slave.
std::string OpenPty(int* master, std::string* slave) {
  if (std::string error = EnsureDevpts(); !error.empty()) return error;
  // The devpts instance's own ptmx; /dev/ptmx (which reaches the instance at /dev/pts) where
  // that one is closed to the caller (its mode is 000 unless mounted with ptmxmode).
  *master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (*master < 0) *master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (*master < 0) return Errno("open /dev/ptmx");
  char name[128];
  if (grantpt(*master) != 0 || unlockpt(*master) != 0 ||
      ptsname_r(*master, name, sizeof(name)) != 0) {
    std::string error = Errno("unlocking the pty");
    close(*master);
    return error;
  }
  *slave = name;
  return "";
}

void SetWindowSize(int master, PtyWindowSize size) {
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(size.rows);
  ws.ws_col = static_cast<unsigned short>(size.cols);
  (void)ioctl(master, TIOCSWINSZ, &ws);
}

// StartShell forks the shell on the pty's slave; the child's pid, or -1 (errno set).
pid_t StartShell(const std::string& slave, const PtyOpenRequest& request) {
  const pid_t child = fork();
  if (child != 0) return child;
  // The child: a session of its own with the pty as its controlling terminal.
  setsid();
  const int tty = open(slave.c_str(), O_RDWR);
  if (tty < 0 || ioctl(tty, TIOCSCTTY, 0) != 0) _exit(126);
  dup2(tty, 0);
  dup2(tty, 1);
  dup2(tty, 2);
  if (tty > 2) close(tty);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (const int sig : {SIGPIPE, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGHUP, SIGCHLD}) {
    (void)signal(sig, SIG_DFL);
  }
  setenv("TERM", request.term.c_str(), 1);
  setenv("PS1", "nvlab:\\w\\$ ", 0);
  setenv("HOME", "/", 0);
  execl("/bin/sh", "sh", "-i", static_cast<char*>(nullptr));
  (void)std::fprintf(stderr, "nvlab-agent: cannot run /bin/sh: %s\n", std::strerror(errno));
  _exit(127);
}

// ReapAll collects every ended child (the agent is PID 1); true with *status once `shell` is.
bool ReapAll(pid_t shell, int* status) {
  bool done = false;
  for (;;) {
    int s = 0;
    const pid_t pid = waitpid(-1, &s, WNOHANG);
    if (pid <= 0) break;
    if (pid == shell) {
      *status = s;
      done = true;
    }
  }
  return done;
}

CommandStatus StatusOf(int wait_status) {
  CommandStatus status;
  if (WIFSIGNALED(wait_status)) {
    status.signaled = true;
    status.value = WTERMSIG(wait_status);
  } else {
    status.value = WEXITSTATUS(wait_status);
  }
  return status;
}

// Relay is one session's state between the port and the pty.
class Relay {
 public:
  Relay(int port, FrameDecoder* decoder, const FrameSender& send, int master, pid_t shell)
      : port_(port), decoder_(decoder), send_(send), master_(master), shell_(shell) {}

  PtySessionEnd Run();

 private:
  // TakeFrames acts on the host's decoded frames; false with *end when the session must end.
  bool TakeFrames(PtySessionEnd* end);
  // KillShell ends the shell's session at once and waits for the shell (the host left).
  void KillShell();

  int port_;
  FrameDecoder* decoder_;
  const FrameSender& send_;
  int master_;
  pid_t shell_;
  std::string pending_input_;
  bool shell_done_ = false;
  int shell_status_ = 0;
};

bool Relay::TakeFrames(PtySessionEnd* end) {
  while (pending_input_.size() < kMaxPendingInput) {
    auto frame = decoder_->Next();
    if (!frame) break;
    switch (frame->type) {
      case FrameType::kPtyInput:
        if (frame->payload.empty()) {
          // The host's input ended: hang the terminal up, as a closed terminal does.
          (void)kill(shell_, SIGHUP);
        } else {
          pending_input_ += frame->payload;
        }
        break;
      case FrameType::kPtyResize:
        if (const auto size = DecodePtyResize(frame->payload)) SetWindowSize(master_, *size);
        break;
      case FrameType::kPowerOff:
        *end = PtySessionEnd::kPowerOff;
        return false;
      default:
        if (!send_(FrameType::kError, "unexpected request during an interactive shell")) {
          *end = PtySessionEnd::kPortBroken;
          return false;
        }
        break;
    }
  }
  if (decoder_->failed()) {
    *end = PtySessionEnd::kStreamBroken;
    return false;
  }
  return true;
}

void Relay::KillShell() {
  (void)kill(-shell_, SIGKILL);
  (void)kill(shell_, SIGKILL);
  while (!shell_done_) {
    shell_done_ = ReapAll(shell_, &shell_status_);
    if (!shell_done_) usleep(10000);
  }
}

PtySessionEnd Relay::Run() {
  bool master_open = true;
  auto last_sent = std::chrono::steady_clock::now();
  int quiet_after_exit_ms = 0;
  char buf[16384];
  for (;;) {
    PtySessionEnd end = PtySessionEnd::kShellEnded;
    if (!TakeFrames(&end)) {
      KillShell();
      return end;
    }
    const bool read_port = pending_input_.size() < kMaxPendingInput;
    pollfd fds[2] = {{read_port ? port_ : -1, POLLIN, 0},
                     {master_open ? master_ : -1,
                      static_cast<short>(POLLIN | (pending_input_.empty() ? 0 : POLLOUT)), 0}};
    const int timeout = shell_done_ ? 50 : 200;
    const int n = poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) {
      KillShell();
      return PtySessionEnd::kPortBroken;
    }
    bool output = false;
    if (master_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t r = read(master_, buf, sizeof(buf));
      if (r > 0) {
        output = true;
        if (!send_(FrameType::kPtyOutput, std::string_view(buf, static_cast<size_t>(r)))) {
          KillShell();
          return PtySessionEnd::kPortBroken;
        }
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        master_open = false;  // EIO: every slave descriptor is closed
      }
    }
    if (master_open && !pending_input_.empty() && (fds[1].revents & POLLOUT) != 0) {
      const ssize_t w = write(master_, pending_input_.data(), pending_input_.size());
      if (w > 0) pending_input_.erase(0, static_cast<size_t>(w));
    }
    if (read_port && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t r = read(port_, buf, sizeof(buf));
      if (r == 0) {
        KillShell();
        return PtySessionEnd::kHostLeft;
      }
      if (r > 0) decoder_->Feed(std::string_view(buf, static_cast<size_t>(r)));
    }
    if (!shell_done_) shell_done_ = ReapAll(shell_, &shell_status_);
    if (shell_done_) {
      int orphan_status = 0;
      (void)ReapAll(-1, &orphan_status);
      quiet_after_exit_ms = output ? 0 : quiet_after_exit_ms + timeout;
      if (!master_open || quiet_after_exit_ms >= kDrainMs) break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (output) last_sent = now;
    if (now - last_sent >= std::chrono::milliseconds(kKeepAliveMs)) {
      last_sent = now;
      if (!send_(FrameType::kPtyOutput, "")) {
        KillShell();
        return PtySessionEnd::kPortBroken;
      }
    }
  }
  return send_(FrameType::kExit, EncodeExit(StatusOf(shell_status_))) ? PtySessionEnd::kShellEnded
                                                                      : PtySessionEnd::kPortBroken;
}

}  // namespace

PtySessionEnd RunPtySession(int port, FrameDecoder* decoder, const PtyOpenRequest& request,
                            const FrameSender& send) {
  int master = -1;
  std::string slave;
  if (std::string error = OpenPty(&master, &slave); !error.empty()) {
    return send(FrameType::kError, "pty-open: " + error) ? PtySessionEnd::kShellEnded
                                                         : PtySessionEnd::kPortBroken;
  }
  SetWindowSize(master, request.size);
  const pid_t shell = StartShell(slave, request);
  if (shell < 0) {
    const std::string error = Errno("fork");
    close(master);
    return send(FrameType::kError, "pty-open: " + error) ? PtySessionEnd::kShellEnded
                                                         : PtySessionEnd::kPortBroken;
  }
  Relay relay(port, decoder, send, master, shell);
  const PtySessionEnd end = relay.Run();
  // Closing the master hangs the terminal up: what still runs on it gets SIGHUP.
  close(master);
  return end;
}

}  // namespace nvlab::agent
