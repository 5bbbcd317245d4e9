// command_run.h -- runs a host program for the packaging tests and keeps what it printed, and
// finds the package the fixture DebPackage.Build made.

#ifndef NVLAB_TESTS_PACKAGING_COMMAND_RUN_H_
#define NVLAB_TESTS_PACKAGING_COMMAND_RUN_H_

#include <filesystem>
#include <string>
#include <vector>

namespace nvlab::testing {

// CommandRun is one finished command: its exit status (128 + signal when killed) and output.
struct CommandRun {
  int exit_status = -1;
  std::string out;
  std::string err;
};

// RunCommand runs argv (argv[0] searched in PATH), stdin from /dev/null, in working_dir when
// given, with env_overrides ("KEY=VALUE") applied, within 20 minutes; a failure to start is
// reported in err with exit_status -1.
CommandRun RunCommand(const std::vector<std::string>& argv,
                      const std::vector<std::string>& env_overrides = {},
                      const std::filesystem::path& working_dir = {});

// DescribeRun formats a run for a failure message.
std::string DescribeRun(const CommandRun& run);

// TheDebPackage is the one .deb in folder (empty when there is none or more than one).
std::filesystem::path TheDebPackage(const std::filesystem::path& folder);

}  // namespace nvlab::testing

#endif  // NVLAB_TESTS_PACKAGING_COMMAND_RUN_H_
