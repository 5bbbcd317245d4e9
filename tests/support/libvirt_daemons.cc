// libvirt_daemons.cc -- starting and stopping libvirtd and virtlogd for tests, by PID.

#include "libvirt_daemons.h"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>

#include "nvlab/deadline.h"
#include "nvlab/file_contents.h"
#include "nvlab/subprocess.h"

namespace nvlab::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A daemon as the fixture handles it: its program, its default pid file, its process name.
struct Daemon {
  const char* program;
  const char* pid_file;
  const char* comm;
};
constexpr Daemon kVirtlogd = {"/usr/sbin/virtlogd", "/run/virtlogd.pid", "virtlogd"};
constexpr Daemon kLibvirtd = {"/usr/sbin/libvirtd", "/run/libvirtd.pid", "libvirtd"};

// ReadPid reads a pid file (libvirt writes the number without a newline); 0 when unreadable.
pid_t ReadPid(const fs::path& file) {
  std::ifstream in(file);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return 0;
  return static_cast<pid_t>(pid);
}

// IsLive: pid runs (not a zombie: these daemons' parent is PID 1, which reaps them late) and
// is the program named comm, not a process that reused the PID.
bool IsLive(pid_t pid, const char* comm) {
  if (pid <= 1) return false;
  std::string text;
  const std::string proc = "/proc/" + std::to_string(pid);
  if (!ReadFileContents(proc + "/comm", &text).ok() || text != std::string(comm) + "\n") {
    return false;
  }
  if (!ReadFileContents(proc + "/stat", &text).ok()) return false;
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

bool DaemonRuns(const Daemon& daemon, pid_t* pid) {
  *pid = ReadPid(daemon.pid_file);
  return IsLive(*pid, daemon.comm);
}

void IgnoreLibvirtError(void* /*data*/, virErrorPtr /*error*/) {}

// LibvirtAnswers opens a connection and asks the daemon's version, quietly (while polling,
// refused connections are expected and libvirt would print each one to stderr).
bool LibvirtAnswers() {
  virSetErrorFunc(nullptr, IgnoreLibvirtError);
  bool answers = false;
  if (virConnectPtr conn = virConnectOpen(LibvirtDaemons::kUri)) {
    unsigned long version = 0;
    answers = virConnectGetLibVersion(conn, &version) == 0 && version > 0;
    virConnectClose(conn);
  }
  virSetErrorFunc(nullptr, nullptr);  // libvirt's default handler again.
  return answers;
}

// StartDaemon runs `program --daemon --pid-file=...` and waits for its first process to return,
// which it does once the daemon has forked off; the daemon's PID is then in its pid file.
Status StartDaemon(const Daemon& daemon, pid_t* pid) {
  const std::string log = std::string("/run/nvlab-libvirt-daemons.") + daemon.comm + ".log";
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kFile;
  options.stdout_path = log;
  options.stderr_to = SubprocessOptions::Stream::kStdout;
  Subprocess child;
  NVLAB_RETURN_IF_ERROR(Subprocess::Start(
      {daemon.program, "--daemon", std::string("--pid-file=") + daemon.pid_file}, options, &child));
  NVLAB_RETURN_IF_ERROR(child.Wait(Deadline::In(seconds(30))));
  std::string output;
  (void)ReadFileContents(log, &output);
  if (!child.Succeeded()) {
    return Status::IoError(std::string(daemon.program) + " --daemon " + child.DescribeExit() +
                           ": " + output);
  }
  // The daemon writes its pid file after the fork; give it a moment.
  const Deadline deadline = Deadline::In(seconds(10));
  while (!DaemonRuns(daemon, pid)) {
    if (deadline.expired()) {
      return Status::IoError(std::string(daemon.program) + " started but " + daemon.pid_file +
                             " names no running " + daemon.comm + ": " + output);
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  (void)unlink(log.c_str());  // Kept only when the start failed.
  return Status::Ok();
}

// StopDaemon: SIGTERM, then SIGKILL if it has not ended 30 s later. Only a PID that is still
// the daemon's (its pid file names it and it is that program).
void StopDaemon(const Daemon& daemon, pid_t pid) {
  if (ReadPid(daemon.pid_file) != pid || !IsLive(pid, daemon.comm)) return;
  (void)kill(pid, SIGTERM);
  const Deadline deadline = Deadline::In(seconds(30));
  while (IsLive(pid, daemon.comm)) {
    if (deadline.expired()) {
      (void)kill(pid, SIGKILL);
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// The record of started daemons: "virtlogd PID" and "libvirtd PID" lines.
void RecordStarted(const Daemon& daemon, pid_t pid) {
  std::ofstream out(LibvirtDaemons::kStartedPath, std::ios::app);
  out << daemon.comm << " " << pid << "\n";
}

// Lock is an flock held on a lock file until it goes out of scope.
class Lock {
 public:
  ~Lock() { Unlock(); }
  // Take opens `path` (created if missing) and flocks it with `operation` (LOCK_EX, LOCK_SH).
  Status Take(const char* path, int operation) {
    fd_ = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IoErrorFromErrno(std::string("cannot open ") + path, errno);
    if (flock(fd_, operation) != 0) {
      return Status::IoErrorFromErrno(std::string("cannot lock ") + path, errno);
    }
    return Status::Ok();
  }
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  void Unlock() {
    if (fd_ >= 0) close(std::exchange(fd_, -1));
  }
  // Release gives up the lock's descriptor, still locked, to the caller.
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

}  // namespace

Status LibvirtDaemons::Start(LibvirtDaemons* out) {
  out->Stop();
  if (geteuid() != 0) {
    return Status::NotSupported("qemu:///system needs root, and the tests start its daemons");
  }
  for (const Daemon& daemon : {kVirtlogd, kLibvirtd}) {
    if (access(daemon.program, X_OK) != 0) {
      return Status::NotSupported(std::string(daemon.program) + " is not installed");
    }
  }
  // Lock order, here and in Stop: kLockPath, then kUsersLockPath.
  Lock start_lock;
  NVLAB_RETURN_IF_ERROR(start_lock.Take(kLockPath, LOCK_EX));
  Lock user_lock;
  NVLAB_RETURN_IF_ERROR(user_lock.Take(kUsersLockPath, LOCK_SH));
  out->lock_fd_ = user_lock.Release();
  pid_t libvirtd = 0;
  if (DaemonRuns(kLibvirtd, &libvirtd) && LibvirtAnswers()) return Status::Ok();
  // The record names daemons of an earlier start; those that no longer run are forgotten.
  pid_t virtlogd = 0;
  if (!DaemonRuns(kVirtlogd, &virtlogd) && !DaemonRuns(kLibvirtd, &libvirtd)) {
    (void)unlink(kStartedPath);
  }
  Status status;
  if (!DaemonRuns(kVirtlogd, &virtlogd)) {
    status = StartDaemon(kVirtlogd, &virtlogd);
    if (status.ok()) RecordStarted(kVirtlogd, virtlogd);
    out->started_daemons_ = true;
  }
  // A libvirtd that runs but did not answer yet is waited for, not started twice.
  if (status.ok() && !DaemonRuns(kLibvirtd, &libvirtd)) {
    status = StartDaemon(kLibvirtd, &libvirtd);
    if (status.ok()) RecordStarted(kLibvirtd, libvirtd);
    out->started_daemons_ = true;
  }
  const Deadline deadline = Deadline::In(seconds(60));
  while (status.ok() && !LibvirtAnswers()) {
    if (deadline.expired()) {
      status = Status::Timeout(std::string("libvirtd (PID ") + std::to_string(libvirtd) +
                               ") did not answer at " + kUri + " within 60 s");
    } else if (!DaemonRuns(kLibvirtd, &libvirtd)) {
      status = Status::IoError(std::string("libvirtd ended before it answered; see ") +
                               "/run/nvlab-libvirt-daemons.libvirtd.log and /var/log/libvirt");
    } else {
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  if (!status.ok()) {
    // Stops what was started, unless someone else uses it; Stop takes kLockPath itself.
    start_lock.Unlock();
    out->Stop();
  }
  return status;
}

void LibvirtDaemons::Stop() {
  if (lock_fd_ < 0) return;
  const int user_fd = std::exchange(lock_fd_, -1);
  started_daemons_ = false;
  // Under kLockPath no other user starts or stops: the conversion of this user's shared lock to
  // an exclusive one (which flock does not make atomic) races with nobody.
  Lock start_lock;
  const bool locked = start_lock.Take(kLockPath, LOCK_EX).ok();
  // Exclusive only when no other user holds kUsersLockPath shared: then this is the last user.
  if (locked && flock(user_fd, LOCK_EX | LOCK_NB) == 0) {
    std::ifstream in(kStartedPath);
    pid_t started_virtlogd = 0;
    pid_t started_libvirtd = 0;
    std::string name;
    long pid = 0;
    while (in >> name >> pid) {
      if (name == kVirtlogd.comm) started_virtlogd = static_cast<pid_t>(pid);
      if (name == kLibvirtd.comm) started_libvirtd = static_cast<pid_t>(pid);
    }
    // libvirtd first: it still logs QEMU's output through virtlogd while it shuts down.
    if (started_libvirtd != 0) StopDaemon(kLibvirtd, started_libvirtd);
    if (started_virtlogd != 0) StopDaemon(kVirtlogd, started_virtlogd);
    (void)unlink(kStartedPath);
  }
  close(user_fd);
}

}  // namespace nvlab::testing
