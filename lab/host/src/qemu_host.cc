// qemu_host.cc -- CheckQemu, CheckKvm.

#include "nvlab/qemu_host.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

namespace nvlab {

Status CheckQemu(const std::string& qemu, int major, int minor, std::string* version) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::IoErrorFromErrno("pipe", errno);
  const pid_t pid = fork();
  if (pid < 0) return Status::IoErrorFromErrno("fork", errno);
  if (pid == 0) {
    dup2(fds[1], 1);
    const int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 2);
    execlp(qemu.c_str(), qemu.c_str(), "--version", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0 && out.size() < 8192) {
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
    return Status::NotFound(qemu + " is not installed (ci/install-deps installs QEMU " +
                            std::to_string(major) + " from bookworm-backports)");
  }
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(version (\d+)\.(\d+)(\.\d+)?)"))) {
    return Status::NotSupported("cannot read the version of " + qemu);
  }
  *version = m.str(1) + "." + m.str(2) + m.str(3);
  const int got_major = std::stoi(m.str(1));
  const int got_minor = std::stoi(m.str(2));
  if (got_major < major || (got_major == major && got_minor < minor)) {
    return Status::NotSupported(qemu + " is version " + *version + "; nvlab needs " +
                                std::to_string(major) + "." + std::to_string(minor) +
                                " or later (bookworm-backports: apt-get install -t "
                                "bookworm-backports qemu-system-x86)");
  }
  return Status::Ok();
}

Status CheckKvm() {
  // kvm-pvm may be built in (absent from /proc/modules) but always shows in /sys/module.
  std::string line;
  if (access("/sys/module/kvm_pvm", F_OK) == 0) {
    return Status::NotSupported(
        "--accel kvm: this host's /dev/kvm is the kvm-pvm module, under which stock kernels "
        "hang; use --accel tcg (the default)");
  }
  const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return Status::NotSupported(std::string("--accel kvm: cannot open /dev/kvm: ") +
                                std::strerror(errno) + " (use --accel tcg)");
  }
  close(fd);
  std::ifstream cpuinfo("/proc/cpuinfo");
  bool hw = false;
  while (std::getline(cpuinfo, line)) {
    if (line.starts_with("flags") &&
        (line.find(" vmx") != std::string::npos || line.find(" svm") != std::string::npos)) {
      hw = true;
      break;
    }
  }
  if (!hw) {
    return Status::NotSupported(
        "--accel kvm: the CPU shows no VMX/SVM, so /dev/kvm cannot run stock kernels here; use "
        "--accel tcg (the default)");
  }
  return Status::Ok();
}

}  // namespace nvlab
