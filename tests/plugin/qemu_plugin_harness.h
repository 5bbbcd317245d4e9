// File: tests/plugin/qemu_plugin_harness.h
//
// What the tests that load nvlab-plugin.so into the installed qemu-system-x86_64 share: a
// fixture that makes a test folder with a 2 MiB NVDIMM file, builds the machine's command line
// (file-backed RAM, one NVDIMM, a multiboot guest or none, the plugin), runs QEMU with its
// output in files, and talks to the plugin's control socket and to QEMU's QMP socket.
//
// Header-only test code (inline), one fixture per test; not thread-safe.

#ifndef NVLAB_TESTS_PLUGIN_QEMU_PLUGIN_HARNESS_H_
#define NVLAB_TESTS_PLUGIN_QEMU_PLUGIN_HARNESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nvlab/subprocess.h"

namespace nvlab::plugin_test {

namespace fs = std::filesystem;

inline constexpr uint64_t kNvdimmBase = 0x100000000;  // With 512M of RAM (platform.md).
inline constexpr uint64_t kNvdimmSize = 2 << 20;
inline constexpr uint64_t kRamSize = 512 << 20;
inline constexpr int kQemuTimeoutSeconds = 120;

inline std::string FindQemu() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = dir + "/qemu-system-x86_64";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteFile(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline uint64_t Word(const std::string& file, uint64_t offset) {
  uint64_t value = 0;
  if (offset + 8 <= file.size()) std::memcpy(&value, file.data() + offset, sizeof value);
  return value;
}

// ReadWordAt / WriteWordAt read or write 8 bytes of a file in place (a guest's RAM or NVDIMM
// file while QEMU maps it: pread/pwrite share the page cache with QEMU's MAP_SHARED mapping).
inline uint64_t ReadWordAt(const fs::path& path, uint64_t offset) {
  uint64_t value = 0;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (pread(fd, &value, sizeof value, static_cast<off_t>(offset)) != sizeof value) value = 0;
    close(fd);
  }
  return value;
}
inline bool WriteWordAt(const fs::path& path, uint64_t offset, uint64_t value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = pwrite(fd, &value, sizeof value, static_cast<off_t>(offset)) == sizeof value;
  return close(fd) == 0 && ok;
}

// Talk sends one command line to the control socket and returns the answer ("" on failure).
inline std::string Talk(const fs::path& socket_path, const std::string& command) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      write(fd, command.data(), command.size()) == static_cast<ssize_t>(command.size())) {
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

// Eventually polls `done` every 20 ms for up to 60 s.
inline bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// QmpClient is one connection to QEMU's QMP socket, in command mode after Connect.
class QmpClient {
 public:
  ~QmpClient() {
    if (fd_ >= 0) close(fd_);
  }
  // Connect retries until QEMU listens, reads the greeting and negotiates capabilities.
  bool Connect(const fs::path& socket_path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    const bool connected = Eventually([&] {
      fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
      close(fd_);
      fd_ = -1;
      return false;
    });
    return connected && ReadLine().find("QMP") != std::string::npos && Execute("qmp_capabilities");
  }
  // Execute runs a command without arguments; true when QEMU answers "return".
  bool Execute(const std::string& command) {
    const std::string line = "{\"execute\": \"" + command + "\"}\n";
    if (write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return false;
    for (;;) {  // Events (STOP, RESUME) may come first.
      const std::string answer = ReadLine();
      if (answer.empty()) return false;
      if (answer.find("\"return\"") != std::string::npos) return true;
      if (answer.find("\"error\"") != std::string::npos) return false;
    }
  }

 private:
  std::string ReadLine() {
    std::string line;
    char c = 0;
    while (read(fd_, &c, 1) == 1) {
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }
  int fd_ = -1;
};

class QemuPluginHarness : public ::testing::Test {
 protected:
  void SetUp() override {
    qemu_ = FindQemu();
    if (qemu_.empty()) GTEST_SKIP() << "qemu-system-x86_64 not found on PATH";
    char tmpl[] = "/tmp/nvlab-plugin-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    nvdimm_ = dir_ / "nv0";
    ram_ = dir_ / "ram";
    report_ = dir_ / "report.json";
    control_ = dir_ / "control";
    qmp_ = dir_ / "qmp";
    fs::resize_file(fs::path(WriteEmpty(nvdimm_)), kNvdimmSize);
  }
  void TearDown() override {
    if (qemu_process_.running()) {
      (void)qemu_process_.Kill(SIGKILL);
      (void)qemu_process_.Wait();
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  static fs::path WriteEmpty(const fs::path& path) {
    std::ofstream(path, std::ios::binary).flush();
    return path;
  }

  std::string NvdimmArg() const {
    return "nvdimm=0:100000000:" + std::to_string(kNvdimmSize) + ":" + nvdimm_.string();
  }

  // MachineArgsFor: a machine with file-backed RAM (ram_), one NVDIMM (nvdimm_), the multiboot
  // kernel image when given (else QEMU starts stopped, -S), a QMP socket (qmp_) with
  // `with_qmp`, and the plugin with plugin_options.
  std::vector<std::string> MachineArgsFor(const std::string& plugin_options, bool eadr,
                                          const std::vector<uint8_t>* kernel_image,
                                          bool with_qmp = false) {
    std::vector<std::string> args = {
        qemu_,
        "-M",
        std::string("pc,nvdimm=on,memory-backend=ram0") + (eadr ? ",nvdimm-persistence=cpu" : ""),
        "-accel",
        "tcg,thread=single",
        "-cpu",
        "max",
        "-m",
        "512M,slots=2,maxmem=4G",
        "-display",
        "none",
        "-nodefaults",
        "-no-reboot",
        "-object",
        "memory-backend-file,id=ram0,share=on,size=512M,mem-path=" + ram_.string(),
        "-object",
        "memory-backend-file,id=nv0,share=on,size=2M,mem-path=" + nvdimm_.string(),
        "-device",
        "nvdimm,memdev=nv0,id=nvdimm0"};
    if (kernel_image != nullptr) {
      fs::path kernel = dir_ / "kernel.bin";
      WriteFile(kernel, *kernel_image);
      args.insert(args.end(), {"-kernel", kernel.string()});
    } else {
      args.push_back("-S");
    }
    if (with_qmp)
      args.insert(args.end(), {"-qmp", "unix:" + qmp_.string() + ",server=on,wait=off"});
    std::string plugin = std::string(NVLAB_PLUGIN_PATH) + "," + NvdimmArg() +
                         ",ram=0:" + std::to_string(kRamSize) + ":" + ram_.string();
    if (!plugin_options.empty()) plugin += "," + plugin_options;
    args.insert(args.end(), {"-plugin", plugin});
    return args;
  }

  // Start runs QEMU with stdout and stderr into files of the test folder.
  void Start(const std::vector<std::string>& args) {
    SubprocessOptions options;
    options.stdout_to = SubprocessOptions::Stream::kFile;
    options.stdout_path = dir_ / "stdout";
    options.stderr_to = SubprocessOptions::Stream::kFile;
    options.stderr_path = dir_ / "stderr";
    const Status started = Subprocess::Start(args, options, &qemu_process_);
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  // Wait returns QEMU's wait status, or -1 (and kills it) after the timeout.
  int Wait() {
    const Status waited =
        qemu_process_.Wait(Deadline::In(std::chrono::seconds(kQemuTimeoutSeconds)));
    return waited.ok() ? qemu_process_.wait_status() : -1;
  }

  // WaitForControlSocket polls until the plugin answers ping.
  bool WaitForControlSocket() {
    for (int i = 0; i < 500; ++i) {
      if (Talk(control_, "ping\n") == "pong\n") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string Stderr() const { return ReadFile(dir_ / "stderr"); }

  std::string qemu_;
  fs::path dir_, nvdimm_, ram_, report_, control_, qmp_;
  Subprocess qemu_process_;
};

}  // namespace nvlab::plugin_test

#endif  // NVLAB_TESTS_PLUGIN_QEMU_PLUGIN_HARNESS_H_
