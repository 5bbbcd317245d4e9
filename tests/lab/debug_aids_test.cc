// debug_aids_test.cc -- nvlab's debugging aids end to end in real guests under TCG: --keep
// keeps the run folder (also when the guest cannot boot), --console streams the console to
// stderr, and --gdb starts the guest stopped under QEMU's gdbstub, where a real gdb reads a
// register and lets the run go on. And nvlab doctor on this host, and on one without QEMU; and
// the progress line on a real terminal (tmux), shown during the boot and erased after.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

constexpr char kKeptLine[] = "nvlab: kept the run folder: ";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// KeptFolder is the folder the "kept the run folder" line names ("" when there is none).
fs::path KeptFolder(const std::string& err) {
  const size_t at = err.find(kKeptLine);
  if (at == std::string::npos) return {};
  const size_t from = at + sizeof(kKeptLine) - 1;
  return err.substr(from, err.find('\n', from) - from);
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on right now.
uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

class DebugAidsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = nvlab::testing::MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    for (const fs::path& kept : kept_) fs::remove_all(kept, ec);
  }
  fs::path Kept(const std::string& err) {
    fs::path folder = KeptFolder(err);
    if (!folder.empty()) kept_.push_back(folder);
    return folder;
  }
  fs::path dir_;
  std::vector<fs::path> kept_;
};

TEST_F(DebugAidsTest, KeepKeepsTheRunFolderWithItsConsoleLogAndNvdimmFile) {
  const auto r = RunNvlab({"run", "--keep", "--model", "off", "--", "true"});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  const fs::path folder = Kept(r.err);
  ASSERT_FALSE(folder.empty()) << Describe(r);
  EXPECT_TRUE(fs::is_regular_file(folder / "console-1.log")) << folder;
  EXPECT_TRUE(fs::is_regular_file(folder / "qemu-1.log")) << folder;
  EXPECT_TRUE(fs::is_regular_file(folder / "nvdimm0.img")) << folder;
  EXPECT_TRUE(fs::is_regular_file(folder / "kept")) << folder;
  // A later nvlab's sweep leaves it alone, though its owner is gone.
  const auto again = RunNvlab({"run", "--model", "off", "--", "true"});
  EXPECT_EQ(again.exit_status, 0) << Describe(again);
  EXPECT_TRUE(fs::is_regular_file(folder / "nvdimm0.img")) << folder;
}

TEST_F(DebugAidsTest, KeepKeepsTheRunFolderOfACommandThatFails) {
  const auto r = RunNvlab({"run", "--keep", "--model", "off", "--", "exit 3"});
  EXPECT_EQ(r.exit_status, 3) << Describe(r);
  const fs::path folder = Kept(r.err);
  ASSERT_FALSE(folder.empty()) << Describe(r);
  EXPECT_TRUE(fs::is_regular_file(folder / "nvdimm0.img")) << folder;
}

TEST_F(DebugAidsTest, KeepKeepsTheRunFolderOfAGuestThatCannotBoot) {
  // A QEMU that dies at start: the lab fails (125) and the folder with its QEMU log stays.
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  std::ofstream(bin / "qemu-system-x86_64")
      << "#!/bin/sh\n"
         "if [ \"$1\" = --version ]; then echo 'QEMU emulator version 10.0.2'; exit 0; fi\n"
         "echo 'fake qemu: cannot start' >&2\nexit 1\n";
  fs::permissions(bin / "qemu-system-x86_64", fs::perms::owner_all);
  const auto r = RunNvlab({"run", "--keep", "--model", "off", "--", "true"},
                          {"PATH=" + bin.string() + ":" + std::getenv("PATH")});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  const fs::path folder = Kept(r.err);
  ASSERT_FALSE(folder.empty()) << Describe(r);
  EXPECT_NE(ReadFile(folder / "qemu-1.log").find("fake qemu: cannot start"), std::string::npos)
      << folder;
}

TEST_F(DebugAidsTest, ConsoleStreamsTheGuestConsoleToStderr) {
  // The guest kernel is `quiet`: a cold boot's console holds init's lines from the start of
  // user space, and the kernel's own line at power-off.
  const auto with = RunNvlab({"run", "--cold", "--console", "--model", "off", "--", "true"});
  ASSERT_EQ(with.exit_status, 0) << Describe(with);
  EXPECT_NE(with.err.find("nvlab-init: template stage"), std::string::npos) << Describe(with);
  EXPECT_NE(with.err.find("] reboot: Power down"), std::string::npos) << Describe(with);
  EXPECT_EQ(with.out, "") << Describe(with);
  const auto without = RunNvlab({"run", "--cold", "--model", "off", "--", "true"});
  ASSERT_EQ(without.exit_status, 0) << Describe(without);
  EXPECT_EQ(without.err.find("nvlab-init:"), std::string::npos) << Describe(without);
  EXPECT_EQ(without.err.find("reboot: Power down"), std::string::npos) << Describe(without);
}

TEST_F(DebugAidsTest, GdbAttachesReadsARegisterAndTheRunCompletes) {
  if (system("command -v gdb >/dev/null 2>&1") != 0) GTEST_SKIP() << "gdb is not installed";
  const uint16_t port = FreePort();
  const std::string gdb_option = "--gdb=" + std::to_string(port);
  const fs::path err = dir_ / "err";
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kFile;
  options.stdout_path = dir_ / "out";
  options.stderr_to = SubprocessOptions::Stream::kFile;
  options.stderr_path = err;
  Subprocess nvlab;
  ASSERT_TRUE(Subprocess::Start(
                  {NVLAB_BIN, "run", gdb_option, "--model", "off", "--", "echo ran under gdb"},
                  options, &nvlab)
                  .ok());
  const std::string waiting = "waits for gdb on 127.0.0.1:" + std::to_string(port);
  for (int i = 0; i < 3000 && ReadFile(err).find(waiting) == std::string::npos; ++i) {
    if (!nvlab.running()) break;
    usleep(100000);
  }
  ASSERT_NE(ReadFile(err).find(waiting), std::string::npos) << ReadFile(err);
  EXPECT_NE(ReadFile(err).find("target remote 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << ReadFile(err);
  // The guest is stopped before its first instruction; detaching lets it run.
  SubprocessOptions gdb_options;
  gdb_options.stdout_to = SubprocessOptions::Stream::kCapture;
  gdb_options.stderr_to = SubprocessOptions::Stream::kCapture;
  Subprocess gdb;
  ASSERT_TRUE(Subprocess::Start(
                  {"gdb", "-batch", "-nx", "-ex", "target remote 127.0.0.1:" + std::to_string(port),
                   "-ex", "info registers rip", "-ex", "detach"},
                  gdb_options, &gdb)
                  .ok());
  ASSERT_TRUE(gdb.Wait(Deadline::In(std::chrono::minutes(2))).ok());
  EXPECT_NE(gdb.stdout_text().find("rip"), std::string::npos)
      << gdb.stdout_text() << gdb.stderr_text();
  const Status waited = nvlab.Wait(Deadline::In(std::chrono::minutes(5)));
  ASSERT_TRUE(waited.ok()) << waited.ToString();
  EXPECT_EQ(nvlab.exit_code(), 0) << ReadFile(err);
  EXPECT_EQ(ReadFile(dir_ / "out"), "ran under gdb\n") << ReadFile(err);
}

TEST_F(DebugAidsTest, GdbRefusesATakenPort) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  const auto r = RunNvlab({"run", "--gdb=" + port, "--model", "off", "--", "true"});
  close(fd);
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("port " + port + " on 127.0.0.1 is taken"), std::string::npos)
      << Describe(r);
}

TEST(DoctorTest, ThisHostPasses) {
  const auto r = RunNvlab({"doctor"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("ok      qemu: qemu-system-x86_64 "), std::string::npos) << Describe(r);
  EXPECT_NE(r.out.find("ok      plugin: QEMU loads "), std::string::npos) << Describe(r);
  EXPECT_NE(r.out.find("ok      image: guest image "), std::string::npos) << Describe(r);
  EXPECT_NE(r.out.find("this host can run nvlab"), std::string::npos) << Describe(r);
  const auto json = RunNvlab({"doctor", "--json"});
  EXPECT_EQ(json.exit_status, 0) << Describe(json);
  const nlohmann::json doc = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << Describe(json);
  EXPECT_EQ(doc["passed"], true);
}

TEST(DoctorTest, AHostWithoutQemuFailsAndSaysWhatToInstall) {
  const std::string empty = nvlab::testing::MakeTempDir();
  const auto r = RunNvlab({"doctor"}, {"PATH=" + empty});
  fs::remove_all(empty);
  EXPECT_EQ(r.exit_status, 1) << Describe(r);
  EXPECT_NE(r.out.find("problem qemu: qemu-system-x86_64 is not installed"), std::string::npos)
      << Describe(r);
  EXPECT_NE(r.out.find("fix: install QEMU 10.0 or later"), std::string::npos) << Describe(r);
  EXPECT_NE(r.out.find("fix the problems above"), std::string::npos) << Describe(r);
}

// Tmux runs one private tmux server (its own socket) for a test, ended with it.
class Tmux {
 public:
  Tmux() : socket_("nvlab-progress-" + std::to_string(getpid())) {}
  ~Tmux() { (void)Run({"kill-server"}); }
  bool Run(const std::vector<std::string>& args, std::string* out = nullptr) {
    std::vector<std::string> argv = {"tmux", "-L", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    SubprocessOptions options;
    options.stdout_to = SubprocessOptions::Stream::kCapture;
    options.stderr_to = SubprocessOptions::Stream::kCapture;
    Subprocess tmux;
    if (!Subprocess::Start(argv, options, &tmux).ok()) return false;
    if (!tmux.Wait(Deadline::In(std::chrono::seconds(30))).ok()) return false;
    if (out != nullptr) *out = tmux.stdout_text();
    return tmux.Succeeded();
  }
  std::string Screen() {
    std::string screen;
    (void)Run({"capture-pane", "-p", "-t", "t"}, &screen);
    return screen;
  }

 private:
  std::string socket_;
};

TEST(ProgressOnATerminalTest, TheBootShowsOneProgressLineThenErasesIt) {
  if (system("command -v tmux >/dev/null 2>&1") != 0) GTEST_SKIP() << "tmux is not installed";
  Tmux tmux;
  const std::string command = std::string("TERM=xterm ") + NVLAB_BIN +
                              " run --cold --model off -- 'echo the command ran'; sleep 600";
  ASSERT_TRUE(tmux.Run({"new-session", "-d", "-s", "t", "-x", "150", "-y", "20", command}));
  bool saw_progress = false;
  std::string screen;
  for (int i = 0; i < 3000; ++i) {  // at most 10 minutes of 0.2 s looks
    screen = tmux.Screen();
    if (screen.find("nvlab: boot 1: ") != std::string::npos) saw_progress = true;
    if (screen.find("the command ran") != std::string::npos) break;
    usleep(200000);
  }
  EXPECT_TRUE(saw_progress) << screen;
  ASSERT_NE(screen.find("the command ran"), std::string::npos) << screen;
  // Erased: the line the command's output went to holds that output alone.
  EXPECT_EQ(screen.find("nvlab: boot"), std::string::npos) << screen;
}

}  // namespace
