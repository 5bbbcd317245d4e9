// qemu_host.cc -- CheckQemu, CheckKvm.

#include "nvlab/qemu_host.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>

#include "nvlab/file_contents.h"
#include "nvlab/program_identity.h"
#include "nvlab/subprocess.h"

namespace nvlab {
namespace {

constexpr std::chrono::seconds kProbeTimeout{30};

// ParseVersion reads "MAJOR.MINOR[.PATCH]" (digits only) into its parts.
bool ParseVersion(const std::string& text, int* major, int* minor) {
  std::smatch m;
  if (!std::regex_match(text, m, std::regex(R"((\d{1,4})\.(\d{1,4})(\.\d{1,4})?)"))) return false;
  *major = std::stoi(m.str(1));
  *minor = std::stoi(m.str(2));
  return true;
}

Status RequireVersion(const std::string& qemu, const std::string& version, int major, int minor) {
  int got_major = 0;
  int got_minor = 0;
  if (!ParseVersion(version, &got_major, &got_minor)) {
    return Status::NotSupported("cannot read the version of " + qemu);
  }
  if (got_major < major || (got_major == major && got_minor < minor)) {
    return Status::NotSupported(qemu + " is version " + version + "; nvlab needs " +
                                std::to_string(major) + "." + std::to_string(minor) +
                                " or later (bookworm-backports: apt-get install -t "
                                "bookworm-backports qemu-system-x86)");
  }
  return Status::Ok();
}

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
  return RequireVersion(qemu, *version, major, minor);
}

Status CheckQemuCached(const std::string& qemu, int major, int minor,
                       const std::filesystem::path& cache_dir, std::string* version) {
  std::string identity;
  if (!FileIdentity(ResolveProgram(qemu), true, &identity).ok()) {
    return CheckQemu(qemu, major, minor, version);  // its own message for a missing QEMU
  }
  const std::filesystem::path cache = cache_dir / "qemu-version";
  std::string text;
  if (ReadFileContents(cache, &text).ok() && text.size() < 4096) {
    const size_t newline = text.find('\n');
    if (newline != std::string::npos && text.substr(0, newline) == identity) {
      std::string cached = text.substr(newline + 1);
      while (!cached.empty() && cached.back() == '\n') cached.pop_back();
      int ignored_major = 0;
      int ignored_minor = 0;
      if (ParseVersion(cached, &ignored_major, &ignored_minor)) {
        *version = cached;
        return RequireVersion(qemu, *version, major, minor);
      }
    }
  }
  NVLAB_RETURN_IF_ERROR(CheckQemu(qemu, major, minor, version));
  // Only a QEMU that passed is cached.
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  (void)WriteFileAtomically(cache, identity + "\n" + *version + "\n");
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
