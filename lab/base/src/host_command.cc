// host_command.cc -- RunHostCommand: a Subprocess with stdout captured or redirected and stderr
// captured for the error message.

#include "nvlab/host_command.h"

#include "nvlab/subprocess.h"

namespace nvlab {
namespace {

constexpr std::size_t kStderrTailBytes = 2000;

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    line += arg;
  }
  return line;
}

// StderrTail keeps the end of a tool's stderr: the reason for a failure comes last.
std::string StderrTail(std::string text) {
  if (text.size() > kStderrTailBytes) text.erase(0, text.size() - kStderrTailBytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Status RunHostCommand(const std::vector<std::string>& argv, const HostCommandOptions& options,
                      std::string* stdout_text) {
  if (argv.empty()) return Status::InvalidArgument("empty command");
  const bool capture_stdout = options.stdout_path.empty();
  if (capture_stdout && stdout_text == nullptr) {
    return Status::InvalidArgument("RunHostCommand: no stdout destination");
  }
  SubprocessOptions spawn;
  spawn.working_dir = options.working_dir;
  spawn.stdin_path = options.stdin_path;
  spawn.stdout_to =
      capture_stdout ? SubprocessOptions::Stream::kCapture : SubprocessOptions::Stream::kFile;
  spawn.stdout_path = options.stdout_path;
  spawn.stderr_to = SubprocessOptions::Stream::kCapture;
  // Its own group, so that an interrupted nvlab kills the tool and whatever it started; and
  // killed with nvlab, which waits for it in this very thread.
  spawn.new_process_group = true;
  spawn.kill_with_parent = true;

  const std::string what = "`" + CommandLine(argv) + "`";
  Subprocess child;
  Status status = Subprocess::Start(argv, spawn, &child);
  if (status.code() == Status::Code::kNotFound) {
    return Status::NotFound(what + ": " + status.message() + " (is it installed?)");
  }
  NVLAB_RETURN_IF_ERROR(status.WithContext(what));
  NVLAB_RETURN_IF_ERROR(child.Wait(options.deadline).WithContext(what));
  if (child.Succeeded()) {
    if (capture_stdout) *stdout_text = std::move(child.stdout_text());
    return Status::Ok();
  }
  const std::string tail = StderrTail(std::move(child.stderr_text()));
  return Status::FailedPrecondition(what + " " + child.DescribeExit() +
                                    (tail.empty() ? "" : ": " + tail));
}

}  // namespace nvlab
