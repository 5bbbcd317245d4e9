// host_command.cc -- RunHostCommand: fork/exec with argv, stdout captured or redirected, stderr
// captured for the error message.

#include "nvlab/host_command.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nvlab {
namespace {

constexpr int kExecFailedStatus = 127;
constexpr std::size_t kStderrTailBytes = 2000;

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    line += arg;
  }
  return line;
}

// Child is the code between fork and exec: only async-signal-safe calls.
[[noreturn]] void Child(char* const* argv, const char* working_dir, const char* stdin_path,
                        const char* stdout_path, int stdout_pipe, int stderr_pipe) {
  int in = open(stdin_path, O_RDONLY | O_CLOEXEC);
  if (in < 0 || dup2(in, 0) < 0) _exit(kExecFailedStatus);
  int out = stdout_pipe;
  if (stdout_path != nullptr) {
    out = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) _exit(kExecFailedStatus);
  }
  if (dup2(out, 1) < 0 || dup2(stderr_pipe, 2) < 0) _exit(kExecFailedStatus);
  if (working_dir != nullptr && chdir(working_dir) != 0) _exit(kExecFailedStatus);
  execvp(argv[0], argv);
  static constexpr char kMessage[] = "exec failed\n";
  ssize_t ignored = write(2, kMessage, sizeof(kMessage) - 1);
  (void)ignored;
  _exit(kExecFailedStatus);
}

}  // namespace

Status RunHostCommand(const std::vector<std::string>& argv, const HostCommandOptions& options,
                      std::string* stdout_text) {
  if (argv.empty()) return Status::InvalidArgument("empty command");
  bool capture_stdout = options.stdout_path.empty();
  if (capture_stdout && stdout_text == nullptr) {
    return Status::InvalidArgument("RunHostCommand: no stdout destination");
  }
  std::vector<char*> child_argv;
  child_argv.reserve(argv.size() + 1);
  for (const std::string& arg : argv) child_argv.push_back(const_cast<char*>(arg.c_str()));
  child_argv.push_back(nullptr);
  std::string working_dir = options.working_dir.string();
  std::string stdin_path = options.stdin_path.empty() ? "/dev/null" : options.stdin_path.string();
  std::string stdout_path = options.stdout_path.string();

  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return Status::IoErrorFromErrno("pipe", errno);
  if (capture_stdout && pipe2(out_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    close(err_pipe[0]);
    close(err_pipe[1]);
    return Status::IoErrorFromErrno("pipe", err);
  }
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
    return Status::IoErrorFromErrno("fork", err);
  }
  if (pid == 0) {
    Child(child_argv.data(), working_dir.empty() ? nullptr : working_dir.c_str(),
          stdin_path.c_str(), capture_stdout ? nullptr : stdout_path.c_str(), out_pipe[1],
          err_pipe[1]);
  }
  close(err_pipe[1]);
  if (capture_stdout) close(out_pipe[1]);

  std::string stderr_text;
  std::string captured;
  pollfd fds[2] = {{err_pipe[0], POLLIN, 0}, {capture_stdout ? out_pipe[0] : -1, POLLIN, 0}};
  int open_fds = capture_stdout ? 2 : 1;
  char buffer[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buffer, sizeof(buffer));
      if (got > 0) {
        (i == 0 ? stderr_text : captured).append(buffer, static_cast<std::size_t>(got));
        if (i == 0 && stderr_text.size() > 4 * kStderrTailBytes) {
          stderr_text.erase(0, stderr_text.size() - kStderrTailBytes);
        }
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) return Status::IoErrorFromErrno("waitpid", errno);
  }
  if (stderr_text.size() > kStderrTailBytes) {
    stderr_text.erase(0, stderr_text.size() - kStderrTailBytes);
  }
  while (!stderr_text.empty() && (stderr_text.back() == '\n' || stderr_text.back() == ' ')) {
    stderr_text.pop_back();
  }
  std::string what = "`" + CommandLine(argv) + "`";
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
    if (capture_stdout) *stdout_text = std::move(captured);
    return Status::Ok();
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == kExecFailedStatus &&
      stderr_text == "exec failed") {
    return Status::NotFound(what + ": cannot execute " + argv[0] + " (is it installed?)");
  }
  std::string how = WIFEXITED(wait_status)
                        ? "exited with status " + std::to_string(WEXITSTATUS(wait_status))
                        : "was killed by signal " + std::to_string(WTERMSIG(wait_status));
  return Status::FailedPrecondition(what + " " + how +
                                    (stderr_text.empty() ? "" : ": " + stderr_text));
}

}  // namespace nvlab
