// subprocess_test.cc -- Subprocess (nvlab/subprocess.h): exit statuses, streams, environment,
// start failures, descriptor hygiene in the child and the parent, deadlines and process groups.

#include "nvlab/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nvlab/interruption.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using Stream = SubprocessOptions::Stream;
using namespace std::chrono_literals;

SubprocessOptions Captured() {
  SubprocessOptions options;
  options.stdout_to = Stream::kCapture;
  options.stderr_to = Stream::kCapture;
  return options;
}

// RunToEnd starts argv, waits for it and fails the test on a launcher error.
Subprocess RunToEnd(const std::vector<std::string>& argv,
                    const SubprocessOptions& options = Captured()) {
  Subprocess child;
  Status status = Subprocess::Start(argv, options, &child);
  EXPECT_TRUE(status.ok()) << status.ToString();
  if (status.ok()) {
    status = child.Wait(Deadline::In(60s));
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  return child;
}

int OpenDescriptorCount() {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++count;
  }
  return count;
}

// ProcessIsGone: no such process, or only a zombie waiting for its (new) parent to reap it.
bool ProcessIsGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || line.substr(paren + 2, 1) == "Z";
}

bool EventuallyGone(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    if (ProcessIsGone(pid)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/nvlab-subprocess-test-XXXXXX";
    EXPECT_NE(mkdtemp(templ), nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(SubprocessTest, ReportsTheExitStatus) {
  Subprocess child = RunToEnd({"sh", "-c", "exit 7"});
  EXPECT_FALSE(child.running());
  EXPECT_TRUE(child.exited());
  EXPECT_EQ(child.exit_code(), 7);
  EXPECT_EQ(child.term_signal(), 0);
  EXPECT_FALSE(child.Succeeded());
  EXPECT_EQ(child.DescribeExit(), "exited with status 7");

  Subprocess ok = RunToEnd({"true"});
  EXPECT_TRUE(ok.Succeeded());
  EXPECT_EQ(ok.DescribeExit(), "exited with status 0");
}

TEST(SubprocessTest, ReportsDeathBySignal) {
  Subprocess child = RunToEnd({"sh", "-c", "kill -TERM $$"});
  EXPECT_FALSE(child.exited());
  EXPECT_EQ(child.exit_code(), -1);
  EXPECT_EQ(child.term_signal(), SIGTERM);
  EXPECT_FALSE(child.Succeeded());
  EXPECT_EQ(child.DescribeExit(), "was killed by signal 15 (SIGTERM)");
}

TEST(SubprocessTest, CapturesMegabytesOfStdoutAndStderrWithoutDeadlock) {
  // stderr first: a launcher that read stdout to its end first would never see it end.
  Subprocess child = RunToEnd({"sh", "-c",
                               "head -c 4000000 /dev/zero | tr '\\0' e >&2; "
                               "head -c 5000000 /dev/zero | tr '\\0' o; "
                               "head -c 3000000 /dev/zero | tr '\\0' E >&2"});
  ASSERT_TRUE(child.Succeeded()) << child.DescribeExit();
  ASSERT_EQ(child.stdout_text().size(), 5000000u);
  EXPECT_EQ(child.stdout_text().find_first_not_of('o'), std::string::npos);
  ASSERT_EQ(child.stderr_text().size(), 7000000u);
  EXPECT_EQ(child.stderr_text().find_first_not_of('e'), 4000000u);
  EXPECT_EQ(child.stderr_text().find_first_not_of('E', 4000000), std::string::npos);
}

TEST(SubprocessTest, ObserverSeesEveryCapturedByteInOrder) {
  std::string seen_out, seen_err;
  Subprocess child;
  ASSERT_TRUE(Subprocess::Start({"sh", "-c", "echo out; echo err >&2"}, Captured(), &child).ok());
  ASSERT_TRUE(child
                  .Wait(Deadline::In(60s),
                        [&](int stream, std::string_view chunk) {
                          (stream == 1 ? seen_out : seen_err).append(chunk);
                        })
                  .ok());
  EXPECT_EQ(seen_out, "out\n");
  EXPECT_EQ(seen_err, "err\n");
  EXPECT_EQ(child.stdout_text(), "out\n");
  EXPECT_EQ(child.stderr_text(), "err\n");
}

TEST(SubprocessTest, StdinIsDevNullUnlessAFileIsGiven) {
  Subprocess child = RunToEnd({"readlink", "/proc/self/fd/0"});
  EXPECT_EQ(child.stdout_text(), "/dev/null\n");

  TempDir dir;
  const fs::path input = dir.path() / "input";
  std::ofstream(input) << "from a file\n";
  SubprocessOptions options = Captured();
  options.stdin_path = input;
  EXPECT_EQ(RunToEnd({"cat"}, options).stdout_text(), "from a file\n");
}

TEST(SubprocessTest, StreamsGoToFilesNullOrStdout) {
  TempDir dir;
  SubprocessOptions options;
  options.stdout_to = Stream::kFile;
  options.stdout_path = dir.path() / "both";
  options.stderr_to = Stream::kStdout;
  Subprocess child = RunToEnd({"sh", "-c", "echo one; echo two >&2; echo three"}, options);
  EXPECT_TRUE(child.Succeeded());
  EXPECT_EQ(ReadFile(dir.path() / "both"), "one\ntwo\nthree\n");
  EXPECT_EQ(child.stdout_text(), "");

  options.stdout_to = Stream::kNull;
  options.stderr_to = Stream::kFile;
  options.stderr_path = dir.path() / "err";
  EXPECT_TRUE(RunToEnd({"sh", "-c", "echo lost; echo kept >&2"}, options).Succeeded());
  EXPECT_EQ(ReadFile(dir.path() / "err"), "kept\n");
}

TEST(SubprocessTest, EnvironmentOverridesReplaceAddAndRemove) {
  ASSERT_EQ(setenv("NVLAB_SUBPROCESS_TEST_A", "parent", 1), 0);
  ASSERT_EQ(setenv("NVLAB_SUBPROCESS_TEST_GONE", "parent", 1), 0);
  SubprocessOptions options = Captured();
  options.env_overrides = {"NVLAB_SUBPROCESS_TEST_A=child", "NVLAB_SUBPROCESS_TEST_B=new",
                           "NVLAB_SUBPROCESS_TEST_GONE"};
  Subprocess child = RunToEnd({"sh", "-c",
                               "echo \"$NVLAB_SUBPROCESS_TEST_A|$NVLAB_SUBPROCESS_TEST_B|"
                               "${NVLAB_SUBPROCESS_TEST_GONE-unset}\""},
                              options);
  EXPECT_EQ(child.stdout_text(), "child|new|unset\n");
  EXPECT_EQ(RunToEnd({"sh", "-c", "echo $NVLAB_SUBPROCESS_TEST_A"}).stdout_text(), "parent\n");

  // The program is searched in the child's PATH.
  options.env_overrides = {"PATH=/nvlab-no-such-folder"};
  Subprocess unused;
  const Status status = Subprocess::Start({"sh", "-c", "true"}, options, &unused);
  EXPECT_EQ(status.code(), Status::Code::kNotFound) << status.ToString();
  unsetenv("NVLAB_SUBPROCESS_TEST_A");
  unsetenv("NVLAB_SUBPROCESS_TEST_GONE");
}

TEST(SubprocessTest, RunsInTheWorkingFolder) {
  TempDir dir;
  SubprocessOptions options = Captured();
  options.working_dir = dir.path();
  EXPECT_EQ(RunToEnd({"pwd", "-P"}, options).stdout_text(),
            fs::canonical(dir.path()).string() + "\n");
}

TEST(SubprocessTest, AProgramThatDoesNotExistIsNotFoundNamingIt) {
  const int before = OpenDescriptorCount();
  Subprocess child;
  Status status = Subprocess::Start({"nvlab-no-such-program", "--flag"}, Captured(), &child);
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_EQ(status.message(), "cannot run nvlab-no-such-program: No such file or directory");
  EXPECT_FALSE(child.running());

  status = Subprocess::Start({"/nvlab-no-such-folder/prog"}, Captured(), &child);
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_EQ(status.message(), "cannot run /nvlab-no-such-folder/prog: No such file or directory");

  TempDir dir;
  const fs::path not_executable = dir.path() / "script";
  std::ofstream(not_executable) << "#!/bin/sh\n";
  status = Subprocess::Start({not_executable.string()}, Captured(), &child);
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_EQ(status.message(), "cannot run " + not_executable.string() + ": Permission denied");
  EXPECT_EQ(OpenDescriptorCount(), before);
}

TEST(SubprocessTest, SetUpFailuresNameTheFileAndReason) {
  TempDir dir;
  Subprocess child;
  SubprocessOptions options;
  options.working_dir = dir.path() / "missing";
  Status status = Subprocess::Start({"true"}, options, &child);
  EXPECT_EQ(status.code(), Status::Code::kIoError);
  EXPECT_EQ(status.message(), "cannot enter " + options.working_dir.string() +
                                  " to run true: No such file or directory");

  options = {};
  options.stdin_path = dir.path() / "missing";
  status = Subprocess::Start({"true"}, options, &child);
  EXPECT_EQ(status.code(), Status::Code::kIoError);
  EXPECT_EQ(status.message(), "cannot open " + options.stdin_path.string() +
                                  " as the stdin of true: No such file or directory");

  options = {};
  options.stdout_to = Stream::kFile;
  options.stdout_path = dir.path() / "missing" / "out";
  status = Subprocess::Start({"true"}, options, &child);
  EXPECT_EQ(status.code(), Status::Code::kIoError);
  EXPECT_EQ(status.message(), "cannot set up the stdout of true (" + options.stdout_path.string() +
                                  "): No such file or directory");

  options = {};
  options.stderr_to = Stream::kFile;
  EXPECT_EQ(Subprocess::Start({"true"}, options, &child).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Subprocess::Start({}, {}, &child).code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(child.running());
}

TEST(SubprocessTest, TheChildGetsNoDescriptorButTheStandardThree) {
  // Descriptors without close-on-exec, one of them high, as a careless library would leave.
  const int plain = open("/dev/null", O_RDONLY);
  ASSERT_GE(plain, 3);
  const int high = fcntl(plain, F_DUPFD, 200);
  ASSERT_GE(high, 200);
  int inherited_pipe[2];
  ASSERT_EQ(pipe(inherited_pipe), 0);

  Subprocess child = RunToEnd({"ls", "-l", "/proc/self/fd"});
  close(plain);
  close(high);
  close(inherited_pipe[0]);
  close(inherited_pipe[1]);
  ASSERT_TRUE(child.Succeeded()) << child.stderr_text();
  // ls -l lines end "N -> target"; ls's own handle on the folder it lists does not count.
  std::set<int> fds;
  std::istringstream lines(child.stdout_text());
  for (std::string line; std::getline(lines, line);) {
    const size_t arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    const std::string target = line.substr(arrow + 4);
    if (target.starts_with("/proc/") && target.ends_with("/fd")) continue;
    const size_t name = line.rfind(' ', arrow - 1);
    fds.insert(std::stoi(line.substr(name + 1, arrow - name - 1)));
  }
  EXPECT_EQ(fds, (std::set<int>{0, 1, 2})) << child.stdout_text();
}

TEST(SubprocessTest, DeadlineKillsTheWholeProcessGroup) {
  SubprocessOptions options = Captured();
  options.new_process_group = true;
  Subprocess child;
  ASSERT_TRUE(Subprocess::Start({"sh", "-c", "sleep 100 & echo $!; sleep 100 & echo $!; wait"},
                                options, &child)
                  .ok());
  const pid_t shell = child.pid();
  const auto start = std::chrono::steady_clock::now();
  const Status status = child.Wait(Deadline::In(500ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(status.code(), Status::Code::kTimeout);
  EXPECT_EQ(status.message(), "sh did not end before the deadline; killed");
  EXPECT_FALSE(child.running());
  EXPECT_EQ(child.term_signal(), SIGKILL);
  EXPECT_TRUE(ProcessIsGone(shell));
  // The output read before the deadline is kept: the two grandchildren's pids.
  std::istringstream pids(child.stdout_text());
  int grandchildren = 0;
  for (pid_t pid; pids >> pid; ++grandchildren) {
    EXPECT_TRUE(EventuallyGone(pid)) << "grandchild " << pid << " survived";
  }
  EXPECT_EQ(grandchildren, 2) << child.stdout_text();
}

TEST(SubprocessTest, KillSignalsTheGroupAndWaitReportsIt) {
  SubprocessOptions options;
  options.new_process_group = true;
  Subprocess child;
  ASSERT_TRUE(Subprocess::Start({"sleep", "100"}, options, &child).ok());
  EXPECT_FALSE(child.TryReap());
  EXPECT_EQ(getpgid(child.pid()), child.pid());
  ASSERT_TRUE(child.Kill(SIGTERM).ok());
  ASSERT_TRUE(child.Wait(Deadline::In(30s)).ok());
  EXPECT_EQ(child.term_signal(), SIGTERM);
  EXPECT_TRUE(child.TryReap());
  EXPECT_TRUE(child.Kill(SIGTERM).ok());  // reaped: nothing is sent
  EXPECT_EQ(child.Wait().code(), Status::Code::kFailedPrecondition);
}

TEST(SubprocessTest, ADroppedHandleKillsAndReapsItsChild) {
  pid_t pid = -1;
  {
    Subprocess child;
    ASSERT_TRUE(Subprocess::Start({"sleep", "100"}, {}, &child).ok());
    pid = child.pid();
    Subprocess moved = std::move(child);
    EXPECT_FALSE(child.running());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(moved.pid(), pid);
  }
  EXPECT_TRUE(ProcessIsGone(pid));
}

TEST(SubprocessTest, InterruptionKillsTheChildAndCancels) {
  // The interruption flag is process-wide and never cleared: set it only in a forked copy.
  EXPECT_EXIT(
      {
        SubprocessOptions options;
        options.new_process_group = true;
        Subprocess child;
        if (!Subprocess::Start({"sleep", "100"}, options, &child).ok()) _exit(2);
        const pid_t pid = child.pid();
        InstallInterruptionHandlers();
        (void)raise(SIGTERM);
        const Status status = child.Wait(Deadline::In(60s));
        const bool ok = status.code() == Status::Code::kCancelled &&
                        status.message() == "sleep stopped: interrupted by signal 15" &&
                        child.term_signal() == SIGKILL && ProcessIsGone(pid);
        _exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(SubprocessTest, NoDescriptorLeaksAcrossAThousandStarts) {
  const int before = OpenDescriptorCount();
  for (int i = 0; i < 1000; ++i) {
    Subprocess child;
    if (i % 10 == 9) {
      ASSERT_EQ(Subprocess::Start({"nvlab-no-such-program"}, Captured(), &child).code(),
                Status::Code::kNotFound);
      continue;
    }
    ASSERT_TRUE(Subprocess::Start({"/bin/true"}, Captured(), &child).ok());
    ASSERT_TRUE(child.Wait().ok());
    ASSERT_TRUE(child.Succeeded());
  }
  EXPECT_EQ(OpenDescriptorCount(), before);
}

pid_t FailingFork() {
  errno = EAGAIN;
  return -1;
}

TEST(SubprocessTest, AFailedForkLeaksNoDescriptor) {
  const int before = OpenDescriptorCount();
  Subprocess::SetForkFunctionForTesting(&FailingFork);
  Subprocess child;
  const Status status = Subprocess::Start({"true"}, Captured(), &child);
  Subprocess::SetForkFunctionForTesting(nullptr);
  EXPECT_EQ(status.code(), Status::Code::kIoError);
  EXPECT_EQ(status.message(), std::string("cannot start true: fork: ") + std::strerror(EAGAIN));
  EXPECT_FALSE(child.running());
  EXPECT_EQ(OpenDescriptorCount(), before);
  EXPECT_TRUE(RunToEnd({"true"}).Succeeded());  // the real fork is back
}

}  // namespace
}  // namespace nvlab
