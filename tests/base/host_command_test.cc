// host_command_test.cc -- RunHostCommand (nvlab/host_command.h) over the launcher: its error
// statuses and messages, stdout to a file, and no descriptor of the caller's in the tool.

#include "nvlab/host_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace nvlab {
namespace {

namespace fs = std::filesystem;

TEST(HostCommandTest, FailureCarriesTheCommandHowItEndedAndItsStderrTail) {
  std::string out;
  Status status =
      RunHostCommand({"sh", "-c", "echo progress; echo 'it broke' >&2; exit 3"}, {}, &out);
  EXPECT_EQ(status.code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "`sh -c echo progress; echo 'it broke' >&2; exit 3` exited with status 3: it broke");

  status =
      RunHostCommand({"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; kill $$"}, {}, &out);
  EXPECT_EQ(status.code(), Status::Code::kFailedPrecondition);
  const std::string prefix =
      "`sh -c head -c 100000 /dev/zero | tr '\\0' x >&2; kill $$` was killed by signal 15 "
      "(SIGTERM): ";
  ASSERT_TRUE(status.message().starts_with(prefix)) << status.message();
  EXPECT_EQ(status.message().substr(prefix.size()), std::string(2000, 'x'));
}

TEST(HostCommandTest, AMissingProgramIsNotFound) {
  std::string out;
  const Status status = RunHostCommand({"nvlab-no-such-program", "x"}, {}, &out);
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_EQ(status.message(),
            "`nvlab-no-such-program x`: cannot run nvlab-no-such-program: No such file or "
            "directory (is it installed?)");
}

TEST(HostCommandTest, CapturesOrRedirectsStdout) {
  std::string out;
  ASSERT_TRUE(RunHostCommand({"printf", "a b"}, {}, &out).ok());
  EXPECT_EQ(out, "a b");

  char templ[] = "/tmp/nvlab-host-command-test-XXXXXX";
  ASSERT_NE(mkdtemp(templ), nullptr);
  const fs::path dir = templ;
  std::ofstream(dir / "in") << "piped\n";
  HostCommandOptions options;
  options.stdin_path = dir / "in";
  options.stdout_path = dir / "out";
  options.working_dir = dir;
  ASSERT_TRUE(RunHostCommand({"sh", "-c", "cat; pwd -P"}, options, nullptr).ok());
  std::ifstream in(dir / "out");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "piped\n" + fs::canonical(dir).string() + "\n");
  EXPECT_EQ(RunHostCommand({"true"}, {}, nullptr).code(), Status::Code::kInvalidArgument);
  fs::remove_all(dir);
}

TEST(HostCommandTest, TheToolSeesNoDescriptorOfTheCaller) {
  const int leaked = open("/dev/null", O_RDONLY);  // no close-on-exec on purpose
  ASSERT_GE(leaked, 3);
  std::string out;
  const Status status = RunHostCommand(
      {"sh", "-c",
       "test -e /proc/self/fd/" + std::to_string(leaked) + " && echo open || echo closed"},
      {}, &out);
  close(leaked);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(out, "closed\n");
}

}  // namespace
}  // namespace nvlab
