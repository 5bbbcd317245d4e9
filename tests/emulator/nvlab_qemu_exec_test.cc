// nvlab-qemu's exec (lab/emulator/nvlab_qemu.cc), built twice for this test with another "real
// QEMU": argv_echo, which prints the argv it receives, and a path that does not exist.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "nvlab/subprocess.h"

namespace nvlab {
namespace {

struct ProgramRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

ProgramRun RunProgram(const std::vector<std::string>& argv) {
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kCapture;
  options.stderr_to = SubprocessOptions::Stream::kCapture;
  Subprocess child;
  ProgramRun run;
  Status status = Subprocess::Start(argv, options, &child);
  if (!status.ok()) {
    ADD_FAILURE() << status.ToString();
    return run;
  }
  status = child.Wait(Deadline::In(std::chrono::seconds(60)));
  EXPECT_TRUE(status.ok()) << status.ToString();
  run.exit_code = child.exit_code();
  run.out = child.stdout_text();
  run.err = child.stderr_text();
  return run;
}

std::vector<std::string> SplitNul(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t nul = text.find('\0'); nul != std::string::npos; nul = text.find('\0', start)) {
    parts.push_back(text.substr(start, nul - start));
    start = nul + 1;
  }
  return parts;
}

TEST(NvlabQemuExecTest, ExecsTheRealQemuWithTheRewrittenArgv) {
  const std::string ram =
      R"({"qom-type":"memory-backend-file","id":"ram-node0","mem-path":"/r/ram-node0",)"
      R"("share":true,"size":4096})";
  const ProgramRun run =
      RunProgram({NVLAB_QEMU_ECHO, "-name", "guest=d", "-accel", "tcg", "-object", ram, "-plugin",
                  "/p/nvlab-plugin.so,control=/c", "-S"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(SplitNul(run.out),
            (std::vector<std::string>{
                NVLAB_ARGV_ECHO, "-name", "guest=d", "-accel", "tcg,thread=single", "-object", ram,
                "-plugin", "/p/nvlab-plugin.so,control=/c,ram=0x0:4096:/r/ram-node0", "-S"}));
}

TEST(NvlabQemuExecTest, ProbesPassThroughUnchanged) {
  const ProgramRun run = RunProgram({NVLAB_QEMU_ECHO, "-machine", "none", "-version", ""});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(SplitNul(run.out),
            (std::vector<std::string>{NVLAB_ARGV_ECHO, "-machine", "none", "-version", ""}));
}

TEST(NvlabQemuExecTest, AMissingQemuIsOneLineAndExitStatus127) {
  const ProgramRun run = RunProgram({NVLAB_QEMU_MISSING, "-version"});
  EXPECT_EQ(run.exit_code, 127);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "nvlab-qemu: cannot run the real QEMU " NVLAB_MISSING_QEMU
                     ": No such file or directory\n");
}

}  // namespace
}  // namespace nvlab
