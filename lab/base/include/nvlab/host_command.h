// File: nvlab/host_command.h
//
// RunHostCommand runs a host program (apt-get, dpkg-deb, depmod, xz, ...) with an argv, never
// through a shell, waits for it and turns a failure into a Status that carries the end of its
// stderr, so that "apt-get download failed" comes with apt's reason. It is a thin use of
// nvlab/subprocess.h: the child gets no descriptor of nvlab's but 0-2, runs in a process group
// of its own, and is killed with that group when the user interrupts nvlab or the deadline (the
// user's --timeout at the latest) passes.
//
// Thread-safety: safe to call from several threads (each call forks its own child).

#ifndef NVLAB_HOST_COMMAND_H_
#define NVLAB_HOST_COMMAND_H_

#include <filesystem>
#include <string>
#include <vector>

#include "nvlab/deadline.h"
#include "nvlab/status.h"

namespace nvlab {

struct HostCommandOptions {
  // working_dir: the child's current folder. Default: inherited.
  std::filesystem::path working_dir;
  // stdin_path: file on the child's stdin. Default: /dev/null.
  std::filesystem::path stdin_path;
  // stdout_path: file (created or truncated) that receives the child's stdout. Default: the
  // output is captured into RunHostCommand's *stdout_text (which may then not be null).
  std::filesystem::path stdout_path;
  // deadline: the tool (its whole process group) is killed when it passes. The invocation
  // deadline (nvlab/invocation_deadline.h, the user's --timeout) applies in any case.
  Deadline deadline = Deadline::Never();
};

// RunHostCommand runs argv[0] (searched in PATH) with argv. OK when it exits with status 0.
// Errors: NotFound when the program cannot be executed, FailedPrecondition when it exits
// non-zero or dies of a signal (message: the command and the last lines of its stderr),
// Cancelled when the user interrupted nvlab, Timeout when the deadline or the invocation's passed
// (the command's process group is then killed in either case), IoError when the plumbing fails.
Status RunHostCommand(const std::vector<std::string>& argv, const HostCommandOptions& options,
                      std::string* stdout_text);

}  // namespace nvlab

#endif  // NVLAB_HOST_COMMAND_H_
