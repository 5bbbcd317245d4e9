// guest_program.cc -- fork, exec, collect the output, wait.

#include "nvlab/agent/guest_program.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace nvlab::agent {

Status RunGuestProgram(const std::vector<std::string>& argv,
                       const std::vector<std::string>& extra_environment) {
  if (argv.empty()) return Status::InvalidArgument("no program to run");
  // Everything the child needs is made before fork: it only calls async-signal-safe functions.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> environment = extra_environment;
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  std::vector<char*> envp;
  envp.reserve(environment.size() + 1);
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* path = getenv("PATH");
  const std::string path_list = path != nullptr ? path : "/usr/bin:/bin:/usr/sbin:/sbin";
  std::vector<std::string> candidates;
  if (argv[0].find('/') != std::string::npos) {
    candidates.push_back(argv[0]);
  } else {
    size_t start = 0;
    while (start <= path_list.size()) {
      size_t end = path_list.find(':', start);
      if (end == std::string::npos) end = path_list.size();
      if (end > start) candidates.push_back(path_list.substr(start, end - start) + "/" + argv[0]);
      start = end + 1;
    }
  }

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::IoErrorFromErrno("pipe", errno);
  const pid_t child = fork();
  if (child < 0) {
    close(out[0]);
    close(out[1]);
    return Status::IoErrorFromErrno("fork", errno);
  }
  if (child == 0) {
    const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    for (const std::string& candidate : candidates)
      execve(candidate.c_str(), args.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  std::string output;
  char buf[1024];
  for (;;) {
    const ssize_t n = read(out[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < 4096) output.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return Status::IoErrorFromErrno("waitpid " + argv[0], errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  std::string how;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && output.empty()) {
    return Status::NotFound("cannot run " + argv[0]);
  }
  if (WIFEXITED(status)) {
    how = "exited with status " + std::to_string(WEXITSTATUS(status));
  } else {
    how = std::string("was killed by signal ") + std::to_string(WTERMSIG(status));
  }
  std::string command;
  for (const std::string& a : argv) command += (command.empty() ? "" : " ") + a;
  return Status::IoError(command + " " + how + (output.empty() ? "" : ": " + output));
}

}  // namespace nvlab::agent
