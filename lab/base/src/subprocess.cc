// subprocess.cc -- Subprocess: fork, the child's set-up and exec, draining, waiting, killing.

#include "nvlab/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include "nvlab/interruption.h"
#include "nvlab/invocation_deadline.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace nvlab {
namespace {

using Stream = SubprocessOptions::Stream;

std::atomic<Subprocess::ForkFunction> g_fork_function{nullptr};

// What the child was doing when it failed; sent with errno through the error pipe.
enum class Stage : int { kSetup, kStdin, kStdout, kStderr, kWorkingDir, kExec };

struct ChildFailure {
  Stage stage;
  int error;
};

constexpr int kChildFailedStatus = 127;
// Wait wakes at least this often to notice an interruption (the signal may be delivered to
// another thread, so poll is not always woken by EINTR).
constexpr int kWaitSliceMs = 100;

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// MoveAbove2 keeps a parent-side descriptor off 0-2, which the child's dup2s overwrite (possible
// only when the parent runs with a standard stream closed).
Status MoveAbove2(int* fd) {
  if (*fd > 2) return Status::Ok();
  const int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
  const int err = errno;
  close(*fd);
  *fd = moved;
  return moved < 0 ? Status::IoErrorFromErrno("fcntl", err) : Status::Ok();
}

Status MakePipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::IoErrorFromErrno("pipe", errno);
  Status status = MoveAbove2(&fds[0]);
  if (status.ok()) status = MoveAbove2(&fds[1]);
  if (!status.ok()) {
    CloseFd(&fds[0]);
    CloseFd(&fds[1]);
  }
  return status;
}

// EnvName is "KEY" of "KEY=VALUE" (or of a bare "KEY").
std::string_view EnvName(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

std::vector<std::string> ChildEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry = *e;
    const bool overridden = std::any_of(overrides.begin(), overrides.end(), [&](const auto& o) {
      return EnvName(o) == EnvName(entry);
    });
    if (!overridden) env.emplace_back(entry);
  }
  for (const std::string& o : overrides) {
    if (o.find('=') != std::string::npos) env.push_back(o);
  }
  return env;
}

// ExecCandidates lists the paths to try for argv0, as execvp would: argv0 itself when it holds a
// '/', else each folder of PATH (glibc's default when unset). Computed before fork because the
// child may not allocate.
std::vector<std::string> ExecCandidates(const std::string& argv0,
                                        const std::vector<std::string>& env) {
  if (argv0.find('/') != std::string::npos) return {argv0};
  std::string path = "/bin:/usr/bin";
  for (const std::string& e : env) {
    if (e.starts_with("PATH=")) path = e.substr(5);
  }
  std::vector<std::string> candidates;
  size_t begin = 0;
  while (true) {
    const size_t end = path.find(':', begin);
    std::string dir = path.substr(begin, end == std::string::npos ? end : end - begin);
    candidates.push_back((dir.empty() ? std::string(".") : dir) + "/" + argv0);
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return candidates;
}

// Everything the child needs, prepared by the parent: between fork and exec only
// async-signal-safe calls are allowed (another thread may hold malloc's lock at fork).
struct ChildPlan {
  char* const* argv;
  char* const* envp;
  const char* const* candidates;  // nullptr-terminated
  const char* working_dir;        // nullptr: inherited
  const char* stdin_path;
  Stream stdout_to;
  const char* stdout_path;
  int stdout_pipe;  // write end, for kCapture
  Stream stderr_to;
  const char* stderr_path;
  int stderr_pipe;
  bool new_process_group;
  bool kill_with_parent;
  pid_t parent;
  int error_pipe;  // write end; close-on-exec, so EOF tells the parent exec succeeded
  int max_fd;      // for closing descriptors where close_range is missing
};

[[noreturn]] void ChildFail(const ChildPlan& plan, Stage stage, int error) {
  const ChildFailure failure{stage, error};
  ssize_t ignored = write(plan.error_pipe, &failure, sizeof(failure));
  (void)ignored;
  _exit(kChildFailedStatus);
}

// PlaceFd makes `fd` the child's descriptor `target`. dup2 onto itself would keep the
// close-on-exec flag, hence the fcntl.
bool PlaceFd(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0) == 0;
  return dup2(fd, target) >= 0;
}

bool OpenOnto(const char* path, int flags, int target) {
  const int fd = open(path, flags | O_CLOEXEC, 0644);
  return fd >= 0 && PlaceFd(fd, target);
}

// SetUpStream points descriptor `target` (1 or 2) where `to` says.
bool SetUpStream(Stream to, const char* path, int pipe_fd, int target) {
  switch (to) {
    case Stream::kInherit:
      return true;
    case Stream::kNull:
      return OpenOnto("/dev/null", O_WRONLY, target);
    case Stream::kFile:
      return OpenOnto(path, O_WRONLY | O_CREAT | O_TRUNC, target);
    case Stream::kCapture:
      return PlaceFd(pipe_fd, target);
    case Stream::kStdout:
      return dup2(1, target) >= 0;
  }
  return false;
}

// RunChild is the child between fork and exec.
[[noreturn]] void RunChild(const ChildPlan& plan) {
  if (plan.kill_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(plan, Stage::kSetup, errno);
    // The parent may have died before prctl: then nobody would ever send the signal.
    if (getppid() != plan.parent) _exit(kChildFailedStatus);
  }
  if (plan.new_process_group && setpgid(0, 0) != 0) ChildFail(plan, Stage::kSetup, errno);
  // Handlers are reset by exec, but ignored signals and the mask would be inherited.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) (void)signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  if (!OpenOnto(plan.stdin_path, O_RDONLY, 0)) ChildFail(plan, Stage::kStdin, errno);
  if (!SetUpStream(plan.stdout_to, plan.stdout_path, plan.stdout_pipe, 1)) {
    ChildFail(plan, Stage::kStdout, errno);
  }
  if (!SetUpStream(plan.stderr_to, plan.stderr_path, plan.stderr_pipe, 2)) {
    ChildFail(plan, Stage::kStderr, errno);
  }
  if (plan.working_dir != nullptr && chdir(plan.working_dir) != 0) {
    ChildFail(plan, Stage::kWorkingDir, errno);
  }
  // Every other descriptor goes at exec, whether or not its owner set close-on-exec; the error
  // pipe must stay open until then.
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < plan.max_fd; ++fd) {
      if (fd != plan.error_pipe) close(fd);
    }
  }
  // As execvp: a candidate that does not exist leads to the next; EACCES on one is reported
  // only when no later one exists either.
  int error = ENOENT;
  bool denied = false;
  bool fatal = false;
  for (const char* const* c = plan.candidates; *c != nullptr && !fatal; ++c) {
    execve(*c, plan.argv, plan.envp);
    error = errno;
    if (error == EACCES) {
      denied = true;
    } else if (error != ENOENT && error != ENOTDIR && error != ESTALE && error != ENAMETOOLONG &&
               error != ELOOP) {
      fatal = true;
    }
  }
  ChildFail(plan, Stage::kExec, !fatal && denied ? EACCES : error);
}

Status StartFailure(const ChildFailure& failure, const std::string& name,
                    const SubprocessOptions& options) {
  const int err = failure.error;
  switch (failure.stage) {
    case Stage::kExec:
      return Status::NotFound("cannot run " + name + ": " + std::strerror(err));
    case Stage::kStdin:
      return Status::IoErrorFromErrno(
          "cannot open " +
              (options.stdin_path.empty() ? std::string("/dev/null")
                                          : options.stdin_path.string()) +
              " as the stdin of " + name,
          err);
    case Stage::kStdout:
      return Status::IoErrorFromErrno(
          "cannot set up the stdout of " + name +
              (options.stdout_to == Stream::kFile ? " (" + options.stdout_path.string() + ")" : ""),
          err);
    case Stage::kStderr:
      return Status::IoErrorFromErrno(
          "cannot set up the stderr of " + name +
              (options.stderr_to == Stream::kFile ? " (" + options.stderr_path.string() + ")" : ""),
          err);
    case Stage::kWorkingDir:
      return Status::IoErrorFromErrno(
          "cannot enter " + options.working_dir.string() + " to run " + name, err);
    case Stage::kSetup:
      break;
  }
  return Status::IoErrorFromErrno("cannot set up the process of " + name, err);
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

void Subprocess::SetForkFunctionForTesting(ForkFunction fork_function) {
  g_fork_function.store(fork_function);
}

Status Subprocess::Start(const std::vector<std::string>& argv, const SubprocessOptions& options,
                         Subprocess* child) {
  if (argv.empty() || argv[0].empty()) return Status::InvalidArgument("empty command");
  if (options.stdout_to == Stream::kStdout) {
    return Status::InvalidArgument("stdout cannot go to stdout");
  }
  if ((options.stdout_to == Stream::kFile && options.stdout_path.empty()) ||
      (options.stderr_to == Stream::kFile && options.stderr_path.empty())) {
    return Status::InvalidArgument("a stream to a file needs its path");
  }

  std::vector<std::string> argv_store = argv;
  std::vector<char*> child_argv = CStrings(argv_store);
  std::vector<std::string> env_store = ChildEnvironment(options.env_overrides);
  std::vector<char*> child_env = CStrings(env_store);
  std::vector<std::string> candidate_store = ExecCandidates(argv[0], env_store);
  std::vector<char*> candidates = CStrings(candidate_store);
  const std::string working_dir = options.working_dir.string();
  const std::string stdin_path =
      options.stdin_path.empty() ? "/dev/null" : options.stdin_path.string();
  const std::string stdout_path = options.stdout_path.string();
  const std::string stderr_path = options.stderr_path.string();
  rlimit files{};
  const int max_fd = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < INT_MAX
                         ? static_cast<int>(files.rlim_cur)
                         : 65536;

  // Every descriptor made here is closed on every path below.
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  int error_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int* fd :
         {&out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1], &error_pipe[0], &error_pipe[1]}) {
      CloseFd(fd);
    }
  };
  Status status = MakePipe(error_pipe);
  if (status.ok() && options.stdout_to == Stream::kCapture) status = MakePipe(out_pipe);
  if (status.ok() && options.stderr_to == Stream::kCapture) status = MakePipe(err_pipe);
  if (!status.ok()) {
    close_all();
    return status.WithContext("cannot start " + argv[0]);
  }

  const ChildPlan plan{
      .argv = child_argv.data(),
      .envp = child_env.data(),
      .candidates = candidates.data(),
      .working_dir = working_dir.empty() ? nullptr : working_dir.c_str(),
      .stdin_path = stdin_path.c_str(),
      .stdout_to = options.stdout_to,
      .stdout_path = stdout_path.c_str(),
      .stdout_pipe = out_pipe[1],
      .stderr_to = options.stderr_to,
      .stderr_path = stderr_path.c_str(),
      .stderr_pipe = err_pipe[1],
      .new_process_group = options.new_process_group,
      .kill_with_parent = options.kill_with_parent,
      .parent = getpid(),
      .error_pipe = error_pipe[1],
      .max_fd = max_fd,
  };
  const ForkFunction fork_function = g_fork_function.load();
  const pid_t pid = fork_function != nullptr ? fork_function() : fork();
  if (pid < 0) {
    const int err = errno;
    close_all();
    return Status::IoErrorFromErrno("cannot start " + argv[0] + ": fork", err);
  }
  if (pid == 0) RunChild(plan);

  // The parent: the child's ends go, then the error pipe says whether exec happened.
  CloseFd(&out_pipe[1]);
  CloseFd(&err_pipe[1]);
  CloseFd(&error_pipe[1]);
  ChildFailure failure{};
  size_t got = 0;
  while (got < sizeof(failure)) {
    const ssize_t n =
        read(error_pipe[0], reinterpret_cast<char*>(&failure) + got, sizeof(failure) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  CloseFd(&error_pipe[0]);

  Subprocess started;
  started.name_ = argv[0];
  started.pid_ = pid;
  started.own_group_ = options.new_process_group;
  started.stdout_fd_ = out_pipe[0];
  started.stderr_fd_ = err_pipe[0];
  if (got == sizeof(failure)) {
    started.Reap(/*block=*/true);  // it has _exited, or is about to
    return StartFailure(failure, argv[0], options);
  }
  if (got != 0) {
    started.KillAndReap();
    return Status::IoError("cannot start " + argv[0] + ": a truncated report from the child");
  }
  *child = std::move(started);
  return Status::Ok();
}

Subprocess::Subprocess(Subprocess&& other) noexcept {
  *this = std::move(other);
}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this == &other) return *this;
  if (running()) KillAndReap();
  CloseCapturePipes();
  name_ = std::move(other.name_);
  pid_ = std::exchange(other.pid_, -1);
  own_group_ = std::exchange(other.own_group_, false);
  reaped_ = std::exchange(other.reaped_, false);
  wait_status_ = std::exchange(other.wait_status_, 0);
  stdout_fd_ = std::exchange(other.stdout_fd_, -1);
  stderr_fd_ = std::exchange(other.stderr_fd_, -1);
  stdout_text_ = std::move(other.stdout_text_);
  stderr_text_ = std::move(other.stderr_text_);
  return *this;
}

Subprocess::~Subprocess() {
  if (running()) KillAndReap();
  CloseCapturePipes();
}

void Subprocess::CloseCapturePipes() {
  CloseFd(&stdout_fd_);
  CloseFd(&stderr_fd_);
}

bool Subprocess::Reap(bool block) {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  // ECHILD: someone else reaped it (SIGCHLD ignored); it has ended all the same.
  wait_status_ = r == pid_ ? status : 0;
  reaped_ = true;
  pid_ = -1;
  return true;
}

void Subprocess::KillAndReap() {
  if (pid_ <= 0) return;
  (void)Kill(SIGKILL);
  Reap(/*block=*/true);
}

bool Subprocess::TryReap() {
  return Reap(/*block=*/false);
}

Status Subprocess::Kill(int signal) {
  if (pid_ <= 0) return Status::Ok();
  // Once the leader is reaped its pid (and group id) may be reused; pid_ > 0 means not yet.
  const pid_t target = own_group_ ? -pid_ : pid_;
  if (kill(target, signal) != 0 && errno != ESRCH) {
    return Status::IoErrorFromErrno("cannot signal " + name_, errno);
  }
  return Status::Ok();
}

Status Subprocess::Wait(Deadline deadline, const OutputObserver& observer) {
  if (pid_ <= 0) return Status::FailedPrecondition("no child to wait for");
  // No child outlives the user's --timeout, whatever its caller asked for.
  deadline = deadline.Earlier(InvocationDeadline());
  // pidfd_open (Linux 5.3) lets poll wake the moment the child ends; without it, short sleeps.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  int sleep_ms = 1;
  char buffer[65536];
  Status result;
  while (true) {
    if (const int sig = InterruptionSignal()) {
      result = Status::Cancelled(name_ + " stopped: interrupted by signal " + std::to_string(sig));
      break;
    }
    if (deadline.expired()) {
      result = Status::Timeout(name_ + " did not end before the deadline; killed");
      break;
    }
    const int slice = deadline.RemainingMs(kWaitSliceMs);
    if (stdout_fd_ >= 0 || stderr_fd_ >= 0) {
      // Both streams at once: a child blocked writing one while we read the other would hang.
      pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
      if (poll(fds, 2, slice) < 0 && errno != EINTR) {
        result = Status::IoErrorFromErrno("poll", errno);
        break;
      }
      int* fd_of[2] = {&stdout_fd_, &stderr_fd_};
      std::string* text_of[2] = {&stdout_text_, &stderr_text_};
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n > 0) {
          const std::string_view chunk(buffer, static_cast<size_t>(n));
          if (observer) observer(i + 1, chunk);
          text_of[i]->append(chunk);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          CloseFd(fd_of[i]);
        }
      }
      continue;
    }
    if (Reap(/*block=*/false)) break;
    if (pidfd >= 0) {
      pollfd fd{pidfd, POLLIN, 0};
      (void)poll(&fd, 1, slice);
    } else {
      (void)poll(nullptr, 0, std::min(sleep_ms, slice));
      sleep_ms = std::min(sleep_ms * 2, 50);
    }
  }
  if (pidfd >= 0) close(pidfd);
  if (!result.ok()) {
    KillAndReap();
    CloseCapturePipes();
  }
  return result;
}

bool Subprocess::exited() const {
  return reaped_ && WIFEXITED(wait_status_);
}

int Subprocess::exit_code() const {
  return exited() ? WEXITSTATUS(wait_status_) : -1;
}

int Subprocess::term_signal() const {
  return reaped_ && WIFSIGNALED(wait_status_) ? WTERMSIG(wait_status_) : 0;
}

std::string Subprocess::DescribeExit() const {
  if (!reaped_) return running() ? "is still running" : "was never started";
  if (exited()) return "exited with status " + std::to_string(exit_code());
  const int sig = term_signal();
  const char* abbrev = sigabbrev_np(sig);
  return "was killed by signal " + std::to_string(sig) +
         (abbrev != nullptr ? std::string(" (SIG") + abbrev + ")" : "");
}

}  // namespace nvlab
