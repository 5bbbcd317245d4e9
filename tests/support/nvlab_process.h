// nvlab_process.h -- runs the nvlab command as a user would, for end-to-end tests.

#ifndef NVLAB_TESTS_SUPPORT_NVLAB_PROCESS_H_
#define NVLAB_TESTS_SUPPORT_NVLAB_PROCESS_H_

#include <string>
#include <vector>

namespace nvlab::testing {

struct NvlabResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};

// RunNvlab runs `nvlab args...` with stdin from /dev/null and collects stdout and stderr.
// env_overrides are "KEY=VALUE" entries that replace inherited ones.
NvlabResult RunNvlab(const std::vector<std::string>& args,
                     const std::vector<std::string>& env_overrides = {});

// Describe formats a result for a failure message.
std::string Describe(const NvlabResult& result);

// MakeTempDir makes a fresh folder under /tmp (removed by the caller).
std::string MakeTempDir();

}  // namespace nvlab::testing

#endif  // NVLAB_TESTS_SUPPORT_NVLAB_PROCESS_H_
