// host_command_test.cc -- RunHostCommand (nvlab/host_command.h) over the launcher: its error
// statuses and messages, stdout to a file, no descriptor of the caller's in the tool, and the
// limits (an interruption, a deadline, the invocation's deadline) that end the tool's whole
// process group.

#include "nvlab/host_command.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "nvlab/interruption.h"
#include "nvlab/invocation_deadline.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ProcessIsGone: no such process, or only a zombie waiting for its (new) parent to reap it.
bool ProcessIsGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || line.substr(paren + 2, 1) == "Z";
}

// A tool that starts a grandchild (as apt-get starts its methods) and writes its pid to `file`.
std::vector<std::string> ToolWithAGrandchild(const fs::path& file) {
  return {"sh", "-c", "sleep 1000 & echo $! > " + file.string() + "; wait"};
}

// GrandchildPid waits (at most 10 s) for the pid the tool wrote.
pid_t GrandchildPid(const fs::path& file) {
  for (int i = 0; i < 1000; ++i) {
    std::ifstream in(file);
    pid_t pid = 0;
    if (in >> pid && pid > 0) return pid;
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

bool EventuallyGone(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (ProcessIsGone(pid)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

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

// The interruption flag and the invocation deadline are process-wide: each of these tests sets
// them only in a forked copy of the test (EXPECT_EXIT).

TEST(HostCommandTest, AnInterruptedToolIsCancelledWithItsWholeGroupKilled) {
  const fs::path pid_file =
      fs::temp_directory_path() / ("nvlab-hc-int-" + std::to_string(getpid()));
  EXPECT_EXIT(
      {
        InstallInterruptionHandlers();
        std::thread ctrl_c([&] {
          // Once the tool and its grandchild run: the user's Ctrl-C.
          if (GrandchildPid(pid_file) > 0) (void)kill(getpid(), SIGINT);
        });
        std::string out;
        const Status status = RunHostCommand(ToolWithAGrandchild(pid_file), {}, &out);
        ctrl_c.join();
        const pid_t grandchild = GrandchildPid(pid_file);
        const bool ok = status.code() == Status::Code::kCancelled &&
                        status.message().find("interrupted by signal 2") != std::string::npos &&
                        grandchild > 0 && EventuallyGone(grandchild);
        std::filesystem::remove(pid_file);
        _exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(HostCommandTest, ItsDeadlineKillsTheToolsWholeGroup) {
  const fs::path pid_file = fs::temp_directory_path() / ("nvlab-hc-dl-" + std::to_string(getpid()));
  HostCommandOptions options;
  options.deadline = Deadline::In(1s);
  std::string out;
  const Status status = RunHostCommand(ToolWithAGrandchild(pid_file), options, &out);
  const pid_t grandchild = GrandchildPid(pid_file);
  fs::remove(pid_file);
  EXPECT_EQ(status.code(), Status::Code::kTimeout) << status.ToString();
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(EventuallyGone(grandchild));
}

TEST(HostCommandTest, TheInvocationDeadlineEndsAToolGivenNoDeadline) {
  // What `nvlab image --timeout S` relies on: the builder's tools are called without one.
  const fs::path pid_file =
      fs::temp_directory_path() / ("nvlab-hc-inv-" + std::to_string(getpid()));
  EXPECT_EXIT(
      {
        SetInvocationDeadline(Deadline::In(1s));
        std::string out;
        const Status status = RunHostCommand(ToolWithAGrandchild(pid_file), {}, &out);
        const pid_t grandchild = GrandchildPid(pid_file);
        std::filesystem::remove(pid_file);
        const bool ok = status.code() == Status::Code::kTimeout &&
                        InternalWaitExpired(status).code() == Status::Code::kTimeout &&
                        grandchild > 0 && EventuallyGone(grandchild);
        _exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(InvocationDeadlineTest, ATimeoutBeforeItPassedIsALabFailureNamingTheWait) {
  EXPECT_EXIT(
      {
        SetInvocationDeadline(Deadline::In(std::chrono::hours(1)));
        const Status s = InternalWaitExpired(
            Status::Timeout("QEMU did not answer the QMP command stop in time"));
        _exit(s.code() == Status::Code::kIoError &&
                      s.message().find("QMP command stop") != std::string::npos
                  ? 0
                  : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(InterruptionTest, ASecondSignalEndsTheProcessAtOnce) {
  EXPECT_EXIT(
      {
        InstallInterruptionHandlers();
        (void)raise(SIGINT);  // recorded: nvlab stops cleanly
        if (InterruptionSignal() != SIGINT) _exit(1);
        (void)raise(SIGINT);  // the default again: the process ends here
        _exit(2);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

}  // namespace
}  // namespace nvlab
