// doctor_checks.h -- `nvlab doctor`'s checks of the host, as plain logic over a DoctorHost (the
// real one asks the system: doctor_command.h; tests give fakes).
//
// Each check gives one line: ok, a warning, or a problem with what to fix. The doctor passes
// (exit 0) when no essential check has a problem: QEMU, the plugin, the image, free space.
// /dev/kvm and libvirt are informational (nvlab uses TCG; libvirt only for --domain and the
// libvirt backend): at most a warning.
//
// Thread-safety: plain functions; a DoctorHost is used from one thread.

#ifndef NVLAB_CLI_DOCTOR_CHECKS_H_
#define NVLAB_CLI_DOCTOR_CHECKS_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nvlab/status.h"

namespace nvlab {

// The minimum QEMU nvlab runs on (the plugin API that reads registers and stored values).
inline constexpr int kDoctorQemuMajor = 10;
inline constexpr int kDoctorQemuMinor = 0;
// Free space below the first figure is a problem, below the second a warning.
inline constexpr uint64_t kHomeSpaceProblem = 512ull << 20;
inline constexpr uint64_t kHomeSpaceWarning = 2ull << 30;
inline constexpr uint64_t kRunSpaceProblem = 256ull << 20;
inline constexpr uint64_t kRunSpaceWarning = 1ull << 30;

// DoctorImage is what the image cache holds.
enum class DoctorImage {
  kReady,        // an image is cached and checked against its manifest
  kNotBuilt,     // none yet: the first run builds it
  kUnbuildable,  // none yet, and the host lacks what building one needs
  kBroken,       // the cached one failed its check or could not be completed
};

// DoctorHost is what the checks ask of the host.
class DoctorHost {
 public:
  virtual ~DoctorHost() = default;
  // Qemu: Ok with the version text ("10.0.2"); NotFound when absent, NotSupported when older
  // than kDoctorQemuMajor.kDoctorQemuMinor (the message says which).
  virtual Status Qemu(std::string* version) = 0;
  // PluginLoads: whether QEMU loads the persistence model plugin (its path in the message).
  virtual Status PluginLoads() = 0;
  // Image: the image cache's state; *detail says which image or why not.
  virtual DoctorImage Image(std::string* detail) = 0;
  // FreeSpace: the bytes free to this user on the file system of `path`.
  virtual Status FreeSpace(const std::filesystem::path& path, uint64_t* bytes) = 0;
  // Kvm: whether /dev/kvm could run a guest (nvlab/qemu_host.h CheckKvm).
  virtual Status Kvm() = 0;
  // Libvirt: whether qemu:///system answers.
  virtual Status Libvirt() = 0;
};

// The paths the doctor checks the free space of.
struct DoctorPaths {
  std::filesystem::path home;      // NVLAB_HOME
  std::filesystem::path run_root;  // where run folders go (nvlab/run_folder.h)
  std::filesystem::path ram_base;  // where RAM files go (/dev/shm/...); empty: the run folder
  std::filesystem::path plugin;    // the persistence model plugin
};

enum class DoctorVerdict { kOk, kWarning, kProblem };

struct DoctorCheck {
  std::string name;  // "qemu", "plugin", "image", "space-home", "space-run", "space-ram", ...
  DoctorVerdict verdict = DoctorVerdict::kOk;
  bool essential = true;
  std::string detail;  // what was found
  std::string fix;     // what to do (empty when ok)
};

// RunDoctorChecks runs every check in order: qemu, plugin, image, space-home, space-run,
// space-ram, kvm, libvirt.
std::vector<DoctorCheck> RunDoctorChecks(DoctorHost* host, const DoctorPaths& paths);

// DoctorPassed: no essential check has a problem.
bool DoctorPassed(const std::vector<DoctorCheck>& checks);

// DoctorText: one line per check, "ok      NAME: DETAIL", "warning NAME: DETAIL; FIX",
// "problem NAME: DETAIL; fix: FIX", then a verdict line.
std::string DoctorText(const std::vector<DoctorCheck>& checks);

// DoctorJson: {"passed": bool, "checks": [{"name", "verdict", "essential", "detail", "fix"}]}.
nlohmann::json DoctorJson(const std::vector<DoctorCheck>& checks);

}  // namespace nvlab

#endif  // NVLAB_CLI_DOCTOR_CHECKS_H_
