// File: nvlab/lab.h
//
// Lab boots nvlab guests from a program: run a command in a fresh guest, power-cycle one (a
// command, a power cut under the persistence model, a command on what survived), or keep a guest
// booted (LabGuest) for several commands and power-cycles. The same steps as `nvlab run` and
// `nvlab power-cycle`, through the same library (nvlab_session, nvlab_host): results, the cut
// report and the failures are those of the command (docs/design/sdk.md).
//
// Failures come back as a Status (nvlab/status.h, nvlab/exit_status.h maps them to nvlab's exit
// statuses); no exception leaves the SDK but std::bad_alloc. A guest command that fails is not a
// failure of the call: its exit status is in the CommandResult. nvlab's notices and warnings go
// to stderr (with LabConfig::verbose its progress too).
//
// Life cycle: Lab::Create checks the configuration and finds the install; each call then boots
// its own guest and powers it off (or kills it) before returning. A LabGuest lives until it is
// powered off or destroyed (its QEMU killed, its run folder removed); its NVDIMMs keep their
// content across its power-cycles.
//
// Thread-safety: one thread at a time per Lab and per LabGuest; distinct Labs and LabGuests may be
// used from distinct threads (each guest is its own QEMU).

#ifndef NVLAB_SDK_LAB_H_
#define NVLAB_SDK_LAB_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "nvlab/command_result.h"
#include "nvlab/lab_config.h"
#include "nvlab/status.h"

namespace nvlab {

// PackagePrefix is the install prefix of the nvlab package the calling code was built against:
// the CMake package (find_package(nvlab)) defines NVLAB_INSTALL_PREFIX for its users from where
// it is installed. Empty when the macro is not defined (pkg-config, the build tree).
inline std::filesystem::path PackagePrefix() {
#ifdef NVLAB_INSTALL_PREFIX
  return std::filesystem::path(NVLAB_INSTALL_PREFIX);
#else
  return {};
#endif
}

class LabGuest;

class Lab {
 public:
  // Create checks `config` (ValidateLabConfig) and finds nvlab's install (LabConfig::prefix).
  // It starts nothing; the guest image is built on the first boot if NVLAB_HOME lacks it.
  static Status Create(const LabConfig& config, std::unique_ptr<Lab>* out) {
    return CreateWithPackagePrefix(config, PackagePrefix(), out);
  }
  // CreateWithPackagePrefix is Create with the package prefix given (Create's inline body passes
  // the one the caller was compiled with).
  static Status CreateWithPackagePrefix(const LabConfig& config,
                                        const std::filesystem::path& package_prefix,
                                        std::unique_ptr<Lab>* out);
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  // prefix is the nvlab install this Lab uses.
  const std::filesystem::path& prefix() const;
  const LabConfig& config() const;

  // PrepareImage builds the guest image in NVLAB_HOME unless it is cached (the first boot does
  // it otherwise); a test suite may call it once up front so no test's timeout pays for it.
  Status PrepareImage();

  // Run boots a guest, runs `shell_command` under the guest's `sh -c`, powers the guest off. A
  // command that cuts the power itself gives result->cut_by_guest and the cut's report.
  Status Run(const std::string& shell_command, CommandResult* result);
  // RunArgv is Run with an argv run without a shell (argv[0] looked up in the guest's PATH).
  Status RunArgv(const std::vector<std::string>& argv, CommandResult* result);

  // PowerCycle boots a guest, runs `before`, cuts the power when it exits (or when it cut the
  // power itself), boots again on what survived, runs `after`, powers off: `nvlab power-cycle`.
  Status PowerCycle(const std::string& before, const std::string& after,
                    PowerCycleOutcome* outcome);

  // Boot boots a guest that stays up for LabGuest's calls.
  Status Boot(std::unique_ptr<LabGuest>* guest);

 private:
  struct Impl;
  explicit Lab(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// LabGuest is a booted guest (Lab::Boot).
class LabGuest {
 public:
  ~LabGuest();  // kills a guest still running and removes its run folder
  LabGuest(const LabGuest&) = delete;
  LabGuest& operator=(const LabGuest&) = delete;

  // Run runs `shell_command` under the guest's `sh -c`. A command that cuts the power itself
  // gives result->cut_by_guest and the cut's report, and the guest boots again on what survived.
  Status Run(const std::string& shell_command, CommandResult* result);
  Status RunArgv(const std::vector<std::string>& argv, CommandResult* result);

  // PowerCycle runs `before`, cuts the power when it exits (unless it cut the power itself),
  // boots again on what survived and runs `after`; the guest stays up. outcome->before's
  // boot_seconds is 0 (the guest was up).
  Status PowerCycle(const std::string& before, const std::string& after,
                    PowerCycleOutcome* outcome);

  // PowerOff powers the guest off (a guest that does not is killed with a warning on stderr).
  Status PowerOff();

  // nvlab_pmem is the guest's NVLAB_PMEM (the first NVDIMM: /dev/daxN.M, a DAX folder or
  // /dev/pmemN).
  const std::string& nvlab_pmem() const;
  // nvdimm_files are the NVDIMMs' backing files on the host (LabConfig::nvdimm_images or files in
  // the run folder, removed with the guest).
  std::vector<std::filesystem::path> nvdimm_files() const;

 private:
  friend class Lab;
  struct Impl;
  explicit LabGuest(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nvlab

#endif  // NVLAB_SDK_LAB_H_
