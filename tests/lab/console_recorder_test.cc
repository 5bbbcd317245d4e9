// console_recorder_test.cc -- ConsoleRecorder (nvlab/console_recorder.h) on a real unix socket,
// written as QEMU writes its console: the log stays under its cap however much arrives and
// keeps the end, the kernel's panic line is seen even when split across writes, and the time of
// the last output moves only with output.

#include "nvlab/console_recorder.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "nvlab/console_tail.h"
#include "nvlab/file_contents.h"
#include "nvlab_process.h"

namespace nvlab {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ConnectAsQemu connects to the recorder's socket as QEMU's console chardev does.
int ConnectAsQemu(const fs::path& socket) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
  return fd;
}

void WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    ASSERT_GT(n, 0) << strerror(errno);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

class ConsoleRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(ConsoleRecorderTest, TheCopyGetsEveryByteUnchanged) {
  // nvlab --console: the copy goes to stderr; here a file stands for it.
  const fs::path copy_path = dir_ / "copy";
  const int copy = open(copy_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(copy, 0);
  std::unique_ptr<ConsoleRecorder> recorder;
  ASSERT_TRUE(ConsoleRecorder::Start(dir_ / "console.sock", dir_ / "console.log", 64ull * 1024,
                                     &recorder, copy)
                  .ok());
  const int fd = ConnectAsQemu(dir_ / "console.sock");
  const std::string bytes = std::string("boot line\r\n\x1b[1mbold\x1b[0m\0binary", 30) + "\n";
  WriteAll(fd, bytes);
  close(fd);
  recorder->Stop();
  close(copy);
  std::string got;
  ASSERT_TRUE(ReadFileContents(copy_path, &got).ok());
  EXPECT_EQ(got, bytes);
}

TEST_F(ConsoleRecorderTest, AFloodingConsoleStaysUnderTheCapAndKeepsItsEnd) {
  constexpr uint64_t kCap = 64ull * 1024;
  std::unique_ptr<ConsoleRecorder> recorder;
  const fs::path log = dir_ / "console.log";
  ASSERT_TRUE(ConsoleRecorder::Start(dir_ / "console.sock", log, kCap, &recorder).ok());
  const int fd = ConnectAsQemu(dir_ / "console.sock");
  uint64_t written = 0;
  for (int i = 0; i < 100000; ++i) {  // about 3.5 MB, 50 times the cap
    const std::string line = "flood line " + std::to_string(i) + " of the guest's console\n";
    WriteAll(fd, line);
    written += line.size();
    if (i % 1000 == 0) {
      EXPECT_LE(fs::file_size(log), kCap);
    }
  }
  WriteAll(fd, "the last line\n");
  close(fd);  // QEMU ends
  recorder->Stop();
  EXPECT_EQ(recorder->bytes_seen(), written + 14);
  EXPECT_LE(fs::file_size(log), kCap);
  EXPECT_GE(fs::file_size(log), kCap / 2);
  const std::string tail = ReadConsoleTail(log, 2);
  EXPECT_EQ(tail, "flood line 99999 of the guest's console\nthe last line\n");
  EXPECT_FALSE(recorder->panicked());
}

TEST_F(ConsoleRecorderTest, ThePanicLineIsSeenWhenSplitAcrossWrites) {
  std::unique_ptr<ConsoleRecorder> recorder;
  ASSERT_TRUE(
      ConsoleRecorder::Start(dir_ / "c.sock", dir_ / "c.log", kConsoleLogCap, &recorder).ok());
  const int fd = ConnectAsQemu(dir_ / "c.sock");
  WriteAll(fd, "[    1.0] sysrq: Trigger a crash\n[    1.1] Kernel pan");
  std::this_thread::sleep_for(50ms);  // two reads on the recorder's side, most likely
  WriteAll(fd, "ic - not syncing: sysrq triggered crash\n[    1.2] CPU: 1 PID: 1\n");
  close(fd);
  recorder->Stop();
  EXPECT_TRUE(recorder->panicked());
  EXPECT_EQ(recorder->panic_line(), "Kernel panic - not syncing: sysrq triggered crash");
}

TEST_F(ConsoleRecorderTest, LastOutputMovesOnlyWithOutput) {
  std::unique_ptr<ConsoleRecorder> recorder;
  ASSERT_TRUE(
      ConsoleRecorder::Start(dir_ / "c.sock", dir_ / "c.log", kConsoleLogCap, &recorder).ok());
  const auto started = recorder->last_output();
  const int fd = ConnectAsQemu(dir_ / "c.sock");
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(recorder->last_output(), started);  // a connection is not output
  WriteAll(fd, "x");
  for (int i = 0; i < 500 && recorder->last_output() == started; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(recorder->last_output(), started);
  close(fd);
  recorder->Stop();
  EXPECT_FALSE(fs::exists(dir_ / "c.sock"));
}

}  // namespace
}  // namespace nvlab
