// qemu_host.cc -- CheckQemu, CheckKvm.

#include "nvlab/qemu_host.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>

#include "nvlab/subprocess.h"

namespace nvlab {
namespace {

constexpr std::chrono::seconds kProbeTimeout{30};

}  // namespace

Status CheckQemu(const std::string& qemu, int major, int minor, std::string* version) {
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kCapture;
  options.stderr_to = SubprocessOptions::Stream::kNull;
  Subprocess probe;
  const Status started = Subprocess::Start({qemu, "--version"}, options, &probe);
  if (started.code() == Status::Code::kNotFound) {
    return Status::NotFound(qemu + " is not installed (ci/install-deps installs QEMU " +
                            std::to_string(major) +
                            " from bookworm-backports): " + started.message());
  }
  NVLAB_RETURN_IF_ERROR(started);
  // A QEMU that hangs on --version (a broken wrapper script) must not hang nvlab.
  NVLAB_RETURN_IF_ERROR(probe.Wait(Deadline::In(kProbeTimeout)));
  const std::string& out = probe.stdout_text();
  if (!probe.Succeeded()) {
    return Status::NotSupported("`" + qemu + " --version` " + probe.DescribeExit());
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
