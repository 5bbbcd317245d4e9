// pty_session_test.cc -- the agent's interactive shell (RunPtySession) on the host: a socket
// pair stands for the agent port, the test is the host, the host's /bin/sh the shell. The guest
// runs the same code under nvlab shell (tests/lab/shell_test.cc).

#include "nvlab/agent/pty_session.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "nvlab/agent_frame.h"
#include "nvlab/pty_request.h"

namespace nvlab::agent {
namespace {

// kWait: how long the test waits for the shell to show something (generous: a loaded host).
constexpr auto kWait = std::chrono::seconds(120);

// WriteAll sends without SIGPIPE: the real agent ignores that signal (nvlab_agent.cc), this test
// process does not, and a host that leaves makes the session's next write fail.
bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// PtySessionTest runs RunPtySession on a thread, on one end of a socket pair.
class PtySessionTest : public ::testing::Test {
 protected:
  void Start(PtyWindowSize size) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
    PtyOpenRequest request;
    request.size = size;
    request.term = "vt100";
    const int port = fds_[0];
    agent_ = std::thread([this, port, request] {
      FrameDecoder decoder;
      end_ = RunPtySession(port, &decoder, request, [port](FrameType type, std::string_view p) {
        return WriteAll(port, EncodeFrame(type, p));
      });
    });
  }
  void TearDown() override {
    if (fds_[1] >= 0) close(fds_[1]);
    if (agent_.joinable()) agent_.join();
    if (fds_[0] >= 0) close(fds_[0]);
  }
  void Send(FrameType type, std::string_view payload) {
    ASSERT_TRUE(WriteAll(fds_[1], EncodeFrame(type, payload)));
  }
  // WaitForOutput reads frames until the terminal's output holds `what` (true), or an exit
  // frame comes (*exit set), or the wait ends.
  bool WaitForOutput(const std::string& what, std::string* exit = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      while (auto frame = decoder_.Next()) {
        if (frame->type == FrameType::kPtyOutput) output_ += frame->payload;
        if (frame->type == FrameType::kExit && exit != nullptr) {
          *exit = frame->payload;
          return true;
        }
        EXPECT_TRUE(frame->type == FrameType::kPtyOutput || frame->type == FrameType::kExit)
            << static_cast<int>(frame->type) << " " << frame->payload;
      }
      if (!what.empty() && output_.find(what) != std::string::npos) return true;
      pollfd p{fds_[1], POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char buf[4096];
        const ssize_t r = read(fds_[1], buf, sizeof(buf));
        if (r <= 0) return false;
        decoder_.Feed(std::string_view(buf, static_cast<size_t>(r)));
      }
    }
    ADD_FAILURE() << "no '" << what << "' in the terminal's output:\n" << output_;
    return false;
  }

  int fds_[2] = {-1, -1};
  std::thread agent_;
  PtySessionEnd end_ = PtySessionEnd::kPortBroken;
  FrameDecoder decoder_;
  std::string output_;
};

TEST_F(PtySessionTest, RunsAShellOnATerminalOfTheRequestedSizeAndReportsItsExit) {
  Start({30, 100});
  Send(FrameType::kPtyInput, "[ -t 0 ] && echo tty-$((1+1)) size=$(stty size) term=$TERM\r");
  ASSERT_TRUE(WaitForOutput("tty-2 size=30 100 term=vt100"));
  Send(FrameType::kPtyResize, *EncodePtyResize({40, 120}));
  Send(FrameType::kPtyInput, "echo resized=$(stty size)x\r");
  ASSERT_TRUE(WaitForOutput("resized=40 120x"));
  Send(FrameType::kPtyInput, "exit 5\r");
  std::string exit;
  ASSERT_TRUE(WaitForOutput("", &exit));
  EXPECT_EQ(exit, "exit 5\n");
  agent_.join();
  EXPECT_EQ(end_, PtySessionEnd::kShellEnded);
}

TEST_F(PtySessionTest, CtrlCInterruptsTheForegroundJobAndTheShellLivesOn) {
  Start({24, 80});
  // The job says when it runs (a ^C typed before would hit the shell, or the line unread).
  Send(FrameType::kPtyInput, "sh -c 'echo started-$((1+1)); exec sleep 100'\r");
  ASSERT_TRUE(WaitForOutput("started-2"));
  Send(FrameType::kPtyInput, "\x03");
  Send(FrameType::kPtyInput, "echo after=$((0+$?))\r");
  ASSERT_TRUE(WaitForOutput("after=130"));
  Send(FrameType::kPtyInput, "exit\r");
  std::string exit;
  ASSERT_TRUE(WaitForOutput("", &exit));
}

TEST_F(PtySessionTest, TheEndOfTheHostsInputHangsTheShellUp) {
  Start({24, 80});
  Send(FrameType::kPtyInput, "");
  std::string exit;
  ASSERT_TRUE(WaitForOutput("", &exit));
  agent_.join();
  EXPECT_EQ(end_, PtySessionEnd::kShellEnded);
}

TEST_F(PtySessionTest, AHostThatLeavesEndsTheSession) {
  Start({24, 80});
  close(fds_[1]);
  fds_[1] = -1;
  agent_.join();
  EXPECT_EQ(end_, PtySessionEnd::kHostLeft);
}

TEST_F(PtySessionTest, PowerOffDuringTheSessionIsPassedUp) {
  Start({24, 80});
  Send(FrameType::kPowerOff, "");
  agent_.join();
  EXPECT_EQ(end_, PtySessionEnd::kPowerOff);
}

}  // namespace
}  // namespace nvlab::agent
