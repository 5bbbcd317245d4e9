// doctor_checks.cc -- the checks of `nvlab doctor` over a DoctorHost.

#include "doctor_checks.h"

#include <cstdio>

namespace nvlab {
namespace fs = std::filesystem;
namespace {

std::string Size(uint64_t bytes) {
  char text[32];
  if (bytes >= (1ull << 30)) {
    (void)std::snprintf(text, sizeof(text), "%.1f GiB",
                        static_cast<double>(bytes) / static_cast<double>(1ull << 30));
  } else {
    (void)std::snprintf(text, sizeof(text), "%llu MiB",
                        static_cast<unsigned long long>(bytes >> 20));
  }
  return text;
}

DoctorCheck Ok(std::string name, std::string detail, bool essential = true) {
  return {std::move(name), DoctorVerdict::kOk, essential, std::move(detail), ""};
}

DoctorCheck Problem(std::string name, std::string detail, std::string fix) {
  return {std::move(name), DoctorVerdict::kProblem, true, std::move(detail), std::move(fix)};
}

DoctorCheck Warning(std::string name, std::string detail, std::string fix, bool essential) {
  return {std::move(name), DoctorVerdict::kWarning, essential, std::move(detail), std::move(fix)};
}

DoctorCheck QemuCheck(DoctorHost* host, bool* usable) {
  std::string version;
  const Status s = host->Qemu(&version);
  *usable = s.ok();
  if (s.ok()) return Ok("qemu", "qemu-system-x86_64 " + version);
  const std::string wanted =
      std::to_string(kDoctorQemuMajor) + "." + std::to_string(kDoctorQemuMinor);
  return Problem("qemu", s.message(),
                 "install QEMU " + wanted +
                     " or later with qemu-system-x86_64 on PATH (Debian: qemu-system-x86 from "
                     "bookworm-backports or newer)");
}

DoctorCheck PluginCheck(DoctorHost* host, bool qemu_usable, const fs::path& plugin) {
  if (!qemu_usable) {
    return Problem("plugin", "not checked: QEMU is not usable", "fix the qemu check first");
  }
  const Status s = host->PluginLoads();
  if (s.ok()) return Ok("plugin", "QEMU loads " + plugin.string());
  return Problem("plugin", s.message(),
                 "reinstall nvlab (or rebuild it against this QEMU): the plugin lives beside "
                 "the nvlab binary, in ../libexec/nvlab/nvlab-plugin.so");
}

DoctorCheck ImageCheck(DoctorHost* host) {
  std::string detail;
  switch (host->Image(&detail)) {
    case DoctorImage::kReady:
    case DoctorImage::kNotBuilt:  // the first run builds it
      return Ok("image", detail);
    case DoctorImage::kUnbuildable:
      return Problem("image", detail,
                     "install apt-get and dpkg-deb (Debian's apt and dpkg) with the network to "
                     "fetch the packages, or copy a built NVLAB_HOME from another host");
    case DoctorImage::kBroken:
      break;
  }
  return Problem("image", detail, "run `nvlab image` to rebuild it (-v shows each step)");
}

DoctorCheck SpaceCheck(DoctorHost* host, const std::string& name, const std::string& what,
                       const fs::path& path, uint64_t problem, uint64_t warning) {
  uint64_t bytes = 0;
  const Status s = host->FreeSpace(path, &bytes);
  const std::string where = what + " (" + path.string() + ")";
  if (!s.ok())
    return Problem(name, where + ": " + s.message(), "make " + path.string() + " writable");
  const std::string detail = Size(bytes) + " free in " + where;
  if (bytes < problem) {
    return Problem(name, detail, "free at least " + Size(warning) + " there");
  }
  if (bytes < warning)
    return Warning(name, detail, "a guest or image may not fit: free " + Size(warning), true);
  return Ok(name, detail);
}

}  // namespace

std::vector<DoctorCheck> RunDoctorChecks(DoctorHost* host, const DoctorPaths& paths) {
  std::vector<DoctorCheck> checks;
  bool qemu_usable = false;
  checks.push_back(QemuCheck(host, &qemu_usable));
  checks.push_back(PluginCheck(host, qemu_usable, paths.plugin));
  checks.push_back(ImageCheck(host));
  checks.push_back(SpaceCheck(host, "space-home", "NVLAB_HOME, the image and warm-start cache",
                              paths.home, kHomeSpaceProblem, kHomeSpaceWarning));
  checks.push_back(SpaceCheck(host, "space-run", "the run folders, NVDIMM files", paths.run_root,
                              kRunSpaceProblem, kRunSpaceWarning));
  if (!paths.ram_base.empty()) {
    // RAM files fall back to the run folder when the tmpfs has no room: slower, not broken.
    uint64_t bytes = 0;
    const fs::path& tmpfs = paths.ram_base;
    const Status s = host->FreeSpace(tmpfs, &bytes);
    if (!s.ok() || bytes < kRunSpaceWarning) {
      checks.push_back(Warning("space-ram",
                               (s.ok() ? Size(bytes) + " free" : s.message()) + " in " +
                                   tmpfs.string() + ", where guests' RAM files go",
                               "guests keep their RAM in the run folder instead (slower boots)",
                               false));
    } else {
      checks.push_back(Ok("space-ram",
                          Size(bytes) + " free in " + tmpfs.string() + " for guests' RAM files",
                          false));
    }
  }
  const Status kvm = host->Kvm();
  checks.push_back(Ok("kvm",
                      kvm.ok()
                          ? "/dev/kvm is usable (nvlab uses TCG anyway: the persistence "
                            "model needs it; --accel kvm runs without the model)"
                          : "/dev/kvm is not usable (" + kvm.message() + "): fine, nvlab uses TCG",
                      false));
  const Status libvirt = host->Libvirt();
  if (libvirt.ok()) {
    checks.push_back(
        Ok("libvirt", "qemu:///system answers (--domain, the libvirt backend)", false));
  } else {
    checks.push_back(Warning("libvirt", "qemu:///system does not answer: " + libvirt.message(),
                             "only --domain and nvlab machine's domains need it: install "
                             "libvirt-daemon-system and start libvirtd",
                             false));
  }
  return checks;
}

bool DoctorPassed(const std::vector<DoctorCheck>& checks) {
  for (const DoctorCheck& c : checks) {
    if (c.essential && c.verdict == DoctorVerdict::kProblem) return false;
  }
  return true;
}

std::string DoctorText(const std::vector<DoctorCheck>& checks) {
  std::string out;
  for (const DoctorCheck& c : checks) {
    switch (c.verdict) {
      case DoctorVerdict::kOk:
        out += "ok      " + c.name + ": " + c.detail + "\n";
        break;
      case DoctorVerdict::kWarning:
        out += "warning " + c.name + ": " + c.detail + "; " + c.fix + "\n";
        break;
      case DoctorVerdict::kProblem:
        out += "problem " + c.name + ": " + c.detail + "; fix: " + c.fix + "\n";
        break;
    }
  }
  out += DoctorPassed(checks) ? "nvlab doctor: this host can run nvlab\n"
                              : "nvlab doctor: fix the problems above before running nvlab\n";
  return out;
}

nlohmann::json DoctorJson(const std::vector<DoctorCheck>& checks) {
  nlohmann::json list = nlohmann::json::array();
  for (const DoctorCheck& c : checks) {
    list.push_back({{"name", c.name},
                    {"verdict", c.verdict == DoctorVerdict::kOk        ? "ok"
                                : c.verdict == DoctorVerdict::kWarning ? "warning"
                                                                       : "problem"},
                    {"essential", c.essential},
                    {"detail", c.detail},
                    {"fix", c.fix}});
  }
  return {{"passed", DoctorPassed(checks)}, {"checks", list}};
}

}  // namespace nvlab
