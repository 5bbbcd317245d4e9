// nvlab_process.cc -- RunNvlab, Describe, MakeTempDir.

#include "nvlab_process.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "nvlab/subprocess.h"

namespace nvlab::testing {
namespace {

constexpr std::chrono::minutes kNvlabTimeout{9};

}  // namespace

NvlabResult RunNvlab(const std::vector<std::string>& args,
                     const std::vector<std::string>& env_overrides) {
  std::vector<std::string> argv = {NVLAB_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  SubprocessOptions options;
  options.env_overrides = env_overrides;
  options.stdout_to = SubprocessOptions::Stream::kCapture;
  options.stderr_to = SubprocessOptions::Stream::kCapture;
  NvlabResult result;
  Subprocess nvlab;
  const Status started = Subprocess::Start(argv, options, &nvlab);
  if (!started.ok()) {
    ADD_FAILURE() << started.ToString();
    return result;
  }
  // Past CTest's own timeout a hung nvlab is killed anyway; this one names the culprit.
  const Status waited = nvlab.Wait(Deadline::In(kNvlabTimeout));
  if (!waited.ok()) ADD_FAILURE() << waited.ToString();
  result.out = std::move(nvlab.stdout_text());
  result.err = std::move(nvlab.stderr_text());
  result.exit_status = nvlab.exited() ? nvlab.exit_code() : 128 + nvlab.term_signal();
  return result;
}

std::string Describe(const NvlabResult& r) {
  return "exit " + std::to_string(r.exit_status) + "\n--- stdout ---\n" + r.out +
         "\n--- stderr ---\n" + r.err;
}

std::string MakeTempDir() {
  char templ[] = "/tmp/nvlab-test-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return "/tmp";
  }
  return templ;
}

}  // namespace nvlab::testing
