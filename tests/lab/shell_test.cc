// shell_test.cc -- `nvlab shell` through a real terminal: tmux runs nvlab in a pane of its own
// server (a private socket in a temporary folder), the test types with send-keys and reads the
// screen with capture-pane. Every wait polls the screen until what it waits for shows, with a
// generous deadline (boots under TCG on a loaded host are slow); nothing is timed.
//
// Markers: a command echoes a value built by the guest's shell (`echo size=$(stty size)`), so
// the screen's copy of the typed command line never matches what the test waits for.

#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "nvlab/subprocess.h"
#include "nvlab_process.h"

namespace {
namespace fs = std::filesystem;
using nvlab::Deadline;
using nvlab::Status;
using nvlab::Subprocess;
using nvlab::SubprocessOptions;
using nvlab::testing::Describe;
using nvlab::testing::RunNvlab;

// kScreenWait: how long one step may take to show on the screen (a boot included).
constexpr std::chrono::minutes kScreenWait{5};
constexpr char kPrompt[] = "nvlab:/# ";

// CountOf counts the occurrences of `what` in `text`.
size_t CountOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// TmuxPane is one detached tmux session on a private server, running sh.
class TmuxPane {
 public:
  // Start starts the server with a session of cols x rows; false (with a test failure) when it
  // cannot.
  bool Start(const fs::path& dir, int cols, int rows) {
    socket_ = dir / "tmux.sock";
    return Tmux({"-f", "/dev/null", "new-session", "-d", "-s", "nvlab", "-x", std::to_string(cols),
                 "-y", std::to_string(rows), "env PS1='host$ ' sh"});
  }
  ~TmuxPane() { Stop(); }
  // Stop ends the server (and what runs in it), before its socket's folder goes.
  void Stop() {
    if (!socket_.empty()) Tmux({"kill-server"});
    socket_.clear();
  }
  // Type types text literally; Key sends one key (Enter, C-c, C-d).
  bool Type(const std::string& text) { return Tmux({"send-keys", "-t", "nvlab", "-l", text}); }
  bool Key(const std::string& key) { return Tmux({"send-keys", "-t", "nvlab", key}); }
  bool Line(const std::string& text) { return Type(text) && Key("Enter"); }
  bool Resize(int cols, int rows) {
    return Tmux(
        {"resize-window", "-t", "nvlab", "-x", std::to_string(cols), "-y", std::to_string(rows)});
  }
  // Screen is the pane's history and screen, wrapped lines joined.
  std::string Screen() {
    std::string text;
    Tmux({"capture-pane", "-p", "-J", "-S", "-", "-t", "nvlab"}, &text);
    return text;
  }
  // WaitFor waits until `what` shows at least `count` times; the screen at the end.
  bool WaitFor(const std::string& what, size_t count = 1, std::string* screen = nullptr) {
    const Deadline deadline = Deadline::In(kScreenWait);
    std::string text;
    for (;;) {
      text = Screen();
      if (CountOf(text, what) >= count) break;
      if (deadline.expired()) {
        ADD_FAILURE() << "the screen did not show '" << what << "' " << count << " time(s):\n"
                      << text;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (screen != nullptr) *screen = text;
    return CountOf(text, what) >= count;
  }

 private:
  bool Tmux(std::vector<std::string> args, std::string* out = nullptr) {
    std::vector<std::string> argv = {"tmux", "-S", socket_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    SubprocessOptions options;
    options.stdout_to = SubprocessOptions::Stream::kCapture;
    options.stderr_to = SubprocessOptions::Stream::kCapture;
    Subprocess tmux;
    Status s = Subprocess::Start(argv, options, &tmux);
    if (s.ok()) s = tmux.Wait(Deadline::In(std::chrono::seconds(60)));
    if (!s.ok() || !tmux.Succeeded()) {
      ADD_FAILURE() << "tmux " << args.front() << ": " << s.ToString() << " " << tmux.stderr_text();
      return false;
    }
    if (out != nullptr) *out = tmux.stdout_text();
    return true;
  }

  fs::path socket_;
};

class ShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = nvlab::testing::MakeTempDir();
    ASSERT_TRUE(pane_.Start(dir_, 100, 30));
  }
  void TearDown() override {
    pane_.Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // StartNvlab types the nvlab command line into the pane's sh, its status echoed after it.
  void StartNvlab(const std::string& args) {
    const char* home = std::getenv("NVLAB_HOME");
    ASSERT_TRUE(pane_.Line(std::string("NVLAB_HOME='") + (home != nullptr ? home : "") + "' " +
                           NVLAB_BIN + " shell " + args + "; echo status=$?"));
  }
  fs::path dir_;
  TmuxPane pane_;
};

TEST_F(ShellTest, GivesARealTerminalAndExitEndsNvlabWithZero) {
  ASSERT_TRUE(pane_.Line("echo host-term=$TERM"));
  std::string screen;
  ASSERT_TRUE(pane_.WaitFor("host-term=", 2, &screen));  // the command and its output
  const size_t at = screen.rfind("host-term=") + 10;
  const std::string term = screen.substr(at, screen.find('\n', at) - at);
  ASSERT_TRUE(pane_.Line("saved=$(stty -g)"));
  StartNvlab("--model off");
  ASSERT_TRUE(pane_.WaitFor(kPrompt));

  // NVLAB_PMEM, TERM from the host, the pane's size.
  ASSERT_TRUE(pane_.Line("echo pmem=$NVLAB_PMEM term=$TERM; echo size=$(stty size)"));
  ASSERT_TRUE(pane_.WaitFor("pmem=/dev/dax0.0 term=" + term));
  ASSERT_TRUE(pane_.WaitFor("size=30 100"));

  // The size follows the window: the guest's shell waits for it, then says so.
  ASSERT_TRUE(pane_.Resize(120, 40));
  ASSERT_TRUE(
      pane_.Line("while [ \"$(stty size)\" != '40 120' ]; do sleep 0.2; done; "
                 "echo resized-$((40+80))"));
  ASSERT_TRUE(pane_.WaitFor("resized-120"));

  // ^C reaches the foreground job (sleep ends by SIGINT: 130), the shell lives on.
  // Each job says when it runs: a key typed before would reach the shell, not the job.
  ASSERT_TRUE(pane_.Line("sh -c 'echo started-$((1+1)); exec sleep 100'"));
  ASSERT_TRUE(pane_.WaitFor("started-2"));
  ASSERT_TRUE(pane_.Key("C-c"));
  ASSERT_TRUE(pane_.Line("echo after-ctrl-c=$((0+$?))"));
  ASSERT_TRUE(pane_.WaitFor("after-ctrl-c=130"));

  // Job control: ^Z stops the foreground job, fg brings it back to the foreground (where it
  // reads the terminal: the line typed after fg waits for it), ^C ends it.
  ASSERT_TRUE(
      pane_.Line("sh -c 'echo started-$((2+2)); read x; echo got-$x-$((1+1)); "
                 "exec sleep 200'"));
  ASSERT_TRUE(pane_.WaitFor("started-4"));
  ASSERT_TRUE(pane_.Key("C-z"));
  ASSERT_TRUE(pane_.WaitFor("Stopped"));
  ASSERT_TRUE(pane_.Line("fg"));
  ASSERT_TRUE(pane_.Line("y"));
  ASSERT_TRUE(pane_.WaitFor("got-y-2"));
  ASSERT_TRUE(pane_.Key("C-c"));
  ASSERT_TRUE(pane_.Line("echo jobs-left=$(jobs | wc -l)x"));
  ASSERT_TRUE(pane_.WaitFor("jobs-left=0x"));

  ASSERT_TRUE(pane_.Line("exit"));
  ASSERT_TRUE(pane_.WaitFor("status=0"));
  // The host terminal is back as it was.
  ASSERT_TRUE(pane_.Line("[ \"$saved\" = \"$(stty -g)\" ] && echo restored-$((1+1))"));
  ASSERT_TRUE(pane_.WaitFor("restored-2"));
}

TEST_F(ShellTest, PowerCycleReportsTheCutAndOpensAShellOnWhatSurvived) {
  StartNvlab("--power-cycle");
  ASSERT_TRUE(pane_.WaitFor(kPrompt));
  // flush-drain records are durable when written; noflush ones are lost by the cut (--on-cut
  // lose, the default).
  ASSERT_TRUE(pane_.Line("nvlab-records write $NVLAB_PMEM --count 1 && nvlab-powercut"));
  std::string screen;
  ASSERT_TRUE(pane_.WaitFor("nvlab:   cut: trigger guest, ", 1, &screen));
  EXPECT_NE(screen.find("nvlab:   before: cut the power itself"), std::string::npos) << screen;
  EXPECT_NE(screen.find("NVDIMM lines lost"), std::string::npos) << screen;
  // The second shell, on the next boot.
  ASSERT_TRUE(pane_.WaitFor("BusyBox", 2));
  ASSERT_TRUE(pane_.WaitFor(kPrompt, 2));
  ASSERT_TRUE(
      pane_.Line("c=$(nvlab-records check $NVLAB_PMEM --count 1); "
                 "echo \"$c\" | grep -q 'pattern=flush-drain index=0 survived=yes' && "
                 "echo kept-$((0+1)); "
                 "echo \"$c\" | grep -q 'pattern=noflush index=0 survived=no' && "
                 "echo lost-$((0+1))"));
  ASSERT_TRUE(pane_.WaitFor("kept-1"));
  ASSERT_TRUE(pane_.WaitFor("lost-1"));
  ASSERT_TRUE(pane_.Key("C-d"));  // leaving the second shell ends nvlab
  ASSERT_TRUE(pane_.WaitFor("nvlab:   after: exit "));
  ASSERT_TRUE(pane_.WaitFor("status=0"));
}

TEST_F(ShellTest, ANonzeroShellStatusIsNamedAndNvlabExitsZero) {
  StartNvlab("--model off");
  ASSERT_TRUE(pane_.WaitFor(kPrompt));
  ASSERT_TRUE(pane_.Line("exit 3"));
  ASSERT_TRUE(pane_.WaitFor("nvlab: the shell exited with status 3"));
  ASSERT_TRUE(pane_.WaitFor("status=0"));
}

TEST_F(ShellTest, PowerCycleCutsWhenTheFirstShellIsLeft) {
  StartNvlab("--power-cycle --model off");
  ASSERT_TRUE(pane_.WaitFor(kPrompt));
  ASSERT_TRUE(pane_.Line("exit 3"));
  ASSERT_TRUE(pane_.WaitFor("nvlab:   before: exit 3"));
  ASSERT_TRUE(pane_.WaitFor(kPrompt, 2));
  ASSERT_TRUE(pane_.Line("exit"));
  ASSERT_TRUE(pane_.WaitFor("nvlab:   after: exit 0"));
  ASSERT_TRUE(pane_.WaitFor("status=0"));
}

TEST_F(ShellTest, TheTerminalIsRestoredWhenTheGuestDies) {
  ASSERT_TRUE(pane_.Line("saved=$(stty -g)"));
  StartNvlab("--model off");
  ASSERT_TRUE(pane_.WaitFor(kPrompt));
  // The guest powers itself off under the shell: nvlab fails (125), the terminal is as it was.
  ASSERT_TRUE(pane_.Line("poweroff -f"));
  ASSERT_TRUE(pane_.WaitFor("status=125"));
  ASSERT_TRUE(pane_.Line("[ \"$saved\" = \"$(stty -g)\" ] && echo restored-$((1+1))"));
  ASSERT_TRUE(pane_.WaitFor("restored-2"));
}

TEST(ShellUsageTest, RefusesAStandardInputThatIsNotATerminal) {
  const auto r = RunNvlab({"shell", "--model", "off"});  // stdin: /dev/null
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("needs a terminal"), std::string::npos) << Describe(r);
}

}  // namespace
