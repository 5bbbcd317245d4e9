// doctor_command.cc -- the real DoctorHost (QEMU, the plugin, the image cache, statvfs, /dev/kvm,
// virsh) and `nvlab doctor`.

#include "doctor_command.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "doctor_checks.h"
#include "nvlab/guest_image.h"
#include "nvlab/guest_ram_folder.h"
#include "nvlab/install_layout.h"
#include "nvlab/qemu_host.h"
#include "nvlab/run_folder.h"
#include "nvlab/subprocess.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace fs = std::filesystem;
namespace {

constexpr char kQemu[] = "qemu-system-x86_64";
constexpr std::chrono::seconds kProbeWait{30};
// What the plugin prints when QEMU loaded it and called it without its options: it loads.
constexpr char kPluginAnswer[] = "nvlab-plugin: missing option";

// FirstLine is a tool's first line of output, escaped (untrusted), at most 200 bytes.
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 200) line.resize(200);
  return EscapeUntrusted(line);
}

bool OnPath(const std::string& program) {
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kNull;
  options.stderr_to = SubprocessOptions::Stream::kNull;
  Subprocess probe;
  if (!Subprocess::Start({"sh", "-c", "command -v \"$0\"", program}, options, &probe).ok()) {
    return false;
  }
  return probe.Wait(Deadline::In(kProbeWait)).ok() && probe.Succeeded();
}

class SystemDoctorHost : public DoctorHost {
 public:
  SystemDoctorHost(InstallLayout layout, fs::path home)
      : layout_(std::move(layout)), home_(std::move(home)) {}

  Status Qemu(std::string* version) override {
    return CheckQemu(kQemu, kDoctorQemuMajor, kDoctorQemuMinor, version);
  }

  Status PluginLoads() override {
    std::error_code ec;
    if (!fs::is_regular_file(layout_.plugin, ec)) {
      return Status::NotFound("the persistence model plugin is missing: " +
                              layout_.plugin.string());
    }
    SubprocessOptions options;
    options.stdout_to = SubprocessOptions::Stream::kCapture;
    options.stderr_to = SubprocessOptions::Stream::kCapture;
    Subprocess qemu;
    NVLAB_RETURN_IF_ERROR(
        Subprocess::Start({kQemu, "-machine", "none", "-accel", "tcg", "-display", "none",
                           "-nodefaults", "-no-user-config", "-plugin", layout_.plugin.string()},
                          options, &qemu));
    NVLAB_RETURN_IF_ERROR(qemu.Wait(Deadline::In(kProbeWait)));
    const std::string said = qemu.stderr_text() + qemu.stdout_text();
    if (said.find(kPluginAnswer) != std::string::npos) return Status::Ok();
    return Status::IoError("QEMU could not load " + layout_.plugin.string() + ": QEMU " +
                           qemu.DescribeExit() +
                           (said.empty() ? std::string() : ", saying: " + FirstLine(said)));
  }

  DoctorImage Image(std::string* detail) override {
    std::error_code ec;
    bool base_present = false;
    for (const fs::directory_entry& e : fs::directory_iterator(home_ / "base", ec)) {
      if (fs::exists(e.path() / "vmlinux", ec)) base_present = true;
    }
    if (!base_present) {
      if (!OnPath("apt-get") || !OnPath("dpkg-deb")) {
        *detail = "no guest image in " + home_.string() +
                  ", and building one needs apt-get and dpkg-deb, which are missing";
        return DoctorImage::kUnbuildable;
      }
      *detail = "no guest image in " + home_.string() +
                " yet: the first run builds it (a few minutes, fetching Debian packages), or "
                "`nvlab image` now";
      return DoctorImage::kNotBuilt;
    }
    // Offline: the newest base layer, checked against its manifest; at most the small tools
    // layer is built.
    GuestImageSpec spec;
    spec.home = home_;
    spec.guest_tools_dir = layout_.guest_tools_dir;
    spec.guest_data_dir = layout_.guest_data_dir;
    spec.check_packages = false;
    GuestImage image;
    const Status s = EnsureGuestImage(spec, &image);
    if (!s.ok()) {
      *detail = "the cached guest image is not usable: " + FirstLine(s.message());
      return DoctorImage::kBroken;
    }
    *detail = "guest image " + image.dir.string() + " (kernel " + image.kernel_release +
              "), checked against its manifest";
    return DoctorImage::kReady;
  }

  Status FreeSpace(const fs::path& path, uint64_t* bytes) override {
    // A folder not made yet is on the file system of its nearest existing parent.
    fs::path at = path;
    std::error_code ec;
    while (!at.empty() && !fs::exists(at, ec) && at != at.parent_path()) at = at.parent_path();
    struct statvfs st {};
    if (statvfs(at.c_str(), &st) != 0)
      return Status::IoErrorFromErrno("statvfs " + at.string(), errno);
    *bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    return Status::Ok();
  }

  Status Kvm() override { return CheckKvm(); }

  Status Libvirt() override {
    SubprocessOptions options;
    options.stdout_to = SubprocessOptions::Stream::kCapture;
    options.stderr_to = SubprocessOptions::Stream::kCapture;
    Subprocess virsh;
    const Status started =
        Subprocess::Start({"virsh", "-c", "qemu:///system", "-q", "version"}, options, &virsh);
    if (started.code() == Status::Code::kNotFound) {
      return Status::NotFound("virsh is not installed (libvirt-clients)");
    }
    NVLAB_RETURN_IF_ERROR(started);
    NVLAB_RETURN_IF_ERROR(virsh.Wait(Deadline::In(kProbeWait)));
    if (virsh.Succeeded()) return Status::Ok();
    return Status::IoError("virsh " + virsh.DescribeExit() + ": " + FirstLine(virsh.stderr_text()));
  }

 private:
  InstallLayout layout_;
  fs::path home_;
};

}  // namespace

int RunDoctor(const CliOptions& options) {
  InstallLayout layout;
  const Status found = InstallLayout::FromExecutable(&layout);
  if (!found.ok()) {
    std::cerr << "nvlab: " << found.message() << "\n";
    return 1;
  }
  DoctorPaths paths;
  paths.home = DefaultNvlabHome();
  paths.run_root = RunFolderRoot();
  paths.ram_base = DefaultGuestRamBase();
  paths.plugin = layout.plugin;
  SystemDoctorHost host(layout, paths.home);
  const std::vector<DoctorCheck> checks = RunDoctorChecks(&host, paths);
  if (options.json) {
    std::cout << DoctorJson(checks).dump(2) << "\n";
  } else {
    std::cout << DoctorText(checks);
  }
  std::cout << std::flush;
  return DoctorPassed(checks) ? 0 : 1;
}

}  // namespace nvlab
