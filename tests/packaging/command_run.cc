// command_run.cc -- RunCommand, DescribeRun, TheDebPackage.

#include "command_run.h"

#include <chrono>
#include <system_error>

#include "nvlab/subprocess.h"

namespace nvlab::testing {

namespace fs = std::filesystem;

CommandRun RunCommand(const std::vector<std::string>& argv,
                      const std::vector<std::string>& env_overrides, const fs::path& working_dir) {
  CommandRun run;
  SubprocessOptions options;
  options.env_overrides = env_overrides;
  options.working_dir = working_dir;
  options.stdout_to = SubprocessOptions::Stream::kCapture;
  options.stderr_to = SubprocessOptions::Stream::kCapture;
  options.new_process_group = true;  // a deadline kills the guests' QEMUs too
  Subprocess child;
  Status s = Subprocess::Start(argv, options, &child);
  if (!s.ok()) {
    run.err = s.ToString();
    return run;
  }
  s = child.Wait(Deadline::In(std::chrono::minutes(20)));
  run.out = std::move(child.stdout_text());
  run.err = std::move(child.stderr_text());
  if (!s.ok()) run.err += "\n" + s.ToString();
  run.exit_status = child.exited() ? child.exit_code() : 128 + child.term_signal();
  return run;
}

std::string DescribeRun(const CommandRun& run) {
  return "exit " + std::to_string(run.exit_status) + "\n--- stdout ---\n" + run.out +
         "\n--- stderr ---\n" + run.err;
}

fs::path TheDebPackage(const fs::path& folder) {
  fs::path found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.path().extension() != ".deb") continue;
    if (!found.empty()) return {};
    found = entry.path();
  }
  return found;
}

}  // namespace nvlab::testing
