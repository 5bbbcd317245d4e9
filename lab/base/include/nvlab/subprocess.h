// File: nvlab/subprocess.h
//
// Subprocess is the lab's one process launcher: QEMU, the QEMU version probe, host tools
// (RunHostCommand), the test support and the benchmark all start their children with it, so
// every child gets the same hygiene:
//
//   - argv is executed directly (never through a shell); argv[0] without a '/' is searched in
//     the child's PATH;
//   - every file descriptor other than 0, 1 and 2 is closed in the child, whatever the parent
//     holds (nvlab keeps sockets, locks and NVDIMM files open that a child must not pin);
//   - a start failure (no such program, a working folder or file that cannot be opened) is a
//     Status from Start, not an exit status 127 to guess about;
//   - Wait takes a deadline (never later than the invocation's: nvlab/invocation_deadline.h);
//     when it passes, or the user interrupts nvlab (nvlab/interruption.h), the child is killed with
//     SIGKILL (its whole process group when it has its own) and reaped;
//   - no file descriptor of the parent leaks on any path, a failed fork included.
//
// Example:
//
//   SubprocessOptions options;
//   options.stdout_to = SubprocessOptions::Stream::kCapture;
//   Subprocess child;
//   NVLAB_RETURN_IF_ERROR(Subprocess::Start({"qemu-system-x86_64", "--version"}, options, &child));
//   NVLAB_RETURN_IF_ERROR(child.Wait(Deadline::In(std::chrono::seconds(10))));
//   if (!child.Succeeded()) return Status::FailedPrecondition("qemu " + child.DescribeExit());
//   Use(child.stdout_text());
//
// Thread-safety: Start may be called from several threads at once (every descriptor nvlab opens
// is close-on-exec, and the child closes the rest). One Subprocess object must not be used from
// two threads at once.

#ifndef NVLAB_SUBPROCESS_H_
#define NVLAB_SUBPROCESS_H_

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/deadline.h"
#include "nvlab/status.h"

namespace nvlab {

struct SubprocessOptions {
  // Stream says where the child's stdout or stderr goes.
  enum class Stream {
    kInherit,  // The parent's own stdout / stderr.
    kNull,     // /dev/null.
    kFile,     // The file at stdout_path / stderr_path, created (0644) or truncated.
    kCapture,  // A pipe that Wait drains into stdout_text() / stderr_text().
    kStdout,   // stderr only: wherever stdout goes (2>&1).
  };

  // working_dir: the child's current folder. Default (empty): inherited.
  std::filesystem::path working_dir;
  // env_overrides: "KEY=VALUE" replaces or adds KEY in the inherited environment; a bare "KEY"
  // removes it. The PATH search for argv[0] uses the resulting PATH.
  std::vector<std::string> env_overrides;
  // stdin_path: the file on the child's stdin. Default (empty): /dev/null, never the parent's
  // terminal (a child reading it would steal the user's input).
  std::filesystem::path stdin_path;
  Stream stdout_to = Stream::kInherit;
  std::filesystem::path stdout_path;  // For Stream::kFile.
  Stream stderr_to = Stream::kInherit;
  std::filesystem::path stderr_path;  // For Stream::kFile.
  // new_process_group: the child leads a process group of its own, so that Kill, a deadline
  // and interruption reach its descendants too, and a Ctrl-C at the terminal reaches only nvlab
  // (which then decides what to kill).
  bool new_process_group = false;
  // kill_with_parent: the kernel sends the child SIGKILL when the thread that started it ends
  // (PR_SET_PDEATHSIG), so that a killed nvlab cannot leave a QEMU behind. Only for children
  // started from a thread that outlives them.
  bool kill_with_parent = false;
};

class Subprocess {
 public:
  // OutputObserver sees each chunk of captured output as it arrives (stream: 1 or 2), before
  // it is appended to stdout_text() / stderr_text(); e.g. to time the first byte.
  using OutputObserver = std::function<void(int stream, std::string_view chunk)>;

  // Start starts argv[0] with argv and, on success, makes *child the handle of the running
  // child (a child *child still held is killed and reaped first, as by its destructor). It
  // returns once the child has executed the program (or failed to), so a Kill right after
  // reaches the program and, with new_process_group, its group.
  // Errors: InvalidArgument for an empty argv, a kFile stream without a path or kStdout for
  // stdout; NotFound when argv[0] cannot be executed (the message names it and says why, e.g.
  // "No such file or directory"); IoError when the plumbing fails (pipe, fork, opening the
  // stdin/stdout/stderr files, entering working_dir: the message names the file).
  static Status Start(const std::vector<std::string>& argv, const SubprocessOptions& options,
                      Subprocess* child);

  Subprocess() = default;
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // A child still running when its handle goes away is killed (SIGKILL, its group if it has
  // one) and reaped: no orphan keeps running and no zombie stays.
  ~Subprocess();

  // Wait drains the captured streams until the child closes them, then reaps the child.
  // OK once it has ended, whatever its exit status (see Succeeded, DescribeExit). Timeout when
  // the deadline (or the invocation deadline, if earlier) passes first, Cancelled when
  // InterruptionSignal() is set first: the child (its group, when it has one) is then killed with
  // SIGKILL and reaped, and the output read so far is kept. FailedPrecondition when there is no
  // child (never started, or already reaped).
  Status Wait(Deadline deadline = Deadline::Never(), const OutputObserver& observer = {});

  // TryReap reaps the child if it has ended, without waiting; true when it has (or had) ended.
  // Captured output not yet read stays unread: use Wait for children whose output is captured.
  bool TryReap();

  // Kill sends `signal` to the child's process group when it has its own, else to the child.
  // OK (nothing sent) when the child has already been reaped.
  Status Kill(int signal);

  // running: started and not yet reaped (it may have exited already).
  bool running() const { return pid_ > 0; }
  // pid: the child's process id (and its group's, with new_process_group); -1 when not running.
  pid_t pid() const { return pid_; }

  // After the child was reaped: its raw wait status, and the decoded views of it.
  int wait_status() const { return wait_status_; }
  bool exited() const;
  int exit_code() const;    // -1 unless exited()
  int term_signal() const;  // 0 unless killed by a signal
  // Succeeded: reaped, and exited with status 0.
  bool Succeeded() const { return reaped_ && exited() && exit_code() == 0; }
  // DescribeExit: "exited with status N" or "was killed by signal N (SIGNAME)".
  std::string DescribeExit() const;

  // The captured output (Stream::kCapture); mutable so that a caller can move it out.
  std::string& stdout_text() { return stdout_text_; }
  std::string& stderr_text() { return stderr_text_; }
  const std::string& stdout_text() const { return stdout_text_; }
  const std::string& stderr_text() const { return stderr_text_; }

  // For tests only: ForkFunction replaces fork(2) in Start (nullptr: the real fork), so that a
  // test can make fork fail and check that nothing leaks. Process-wide; not for production.
  using ForkFunction = pid_t (*)();
  static void SetForkFunctionForTesting(ForkFunction fork_function);

 private:
  void CloseCapturePipes();
  // KillAndReap sends SIGKILL (to the group when there is one) and waits for the child.
  void KillAndReap();
  // Reap waits for the child (blocking or not); true once reaped.
  bool Reap(bool block);

  std::string name_;  // argv[0], for messages.
  pid_t pid_ = -1;
  bool own_group_ = false;
  bool reaped_ = false;
  int wait_status_ = 0;
  int stdout_fd_ = -1;  // Read ends of the capture pipes, -1 when not captured or drained.
  int stderr_fd_ = -1;
  std::string stdout_text_;
  std::string stderr_text_;
};

}  // namespace nvlab

#endif  // NVLAB_SUBPROCESS_H_
