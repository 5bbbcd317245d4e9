// guest_template_cache.cc -- GuestTemplateKey, EnsureGuestTemplate: keys, the lock, building and
// publishing a template.

#include "nvlab/guest_template_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <random>

#include "nvlab/file_lock.h"
#include "nvlab/image/cache_folder.h"
#include "nvlab/image/sha256_digest.h"
#include "nvlab/memory_image_file.h"
#include "nvlab/program_identity.h"
#include "nvlab/qemu_command_line.h"
#include "nvlab/qemu_firmware.h"

namespace nvlab {
namespace fs = std::filesystem;

namespace {

void Log(const GuestConfig& config, const std::string& line) {
  if (config.log != nullptr) *config.log << "nvlab: " << line << "\n" << std::flush;
}

// BuildTemplate boots and saves a template into `dir` (a fresh folder).
Status BuildTemplate(const GuestConfig& config, const std::string& key, const std::string& inputs,
                     const fs::path& dir) {
  GuestConfig c = config;
  c.model = ModelConfig();
  c.model.enabled = false;
  c.nvdimm_images.clear();
  c.warm_template.reset();
  c.dry_run = false;
  c.keep_run_folder = false;  // the template keeps its console log itself (console.log)
  if (!config.share_dir.empty()) {
    // The template has the share device, not the run's folder: the guest mounts it at resume.
    c.share_dir = dir / "share";
    std::error_code ec;
    fs::create_directories(c.share_dir, ec);
    if (ec) return Status::IoError("cannot create " + c.share_dir.string() + ": " + ec.message());
  }
  std::unique_ptr<Guest> guest;
  NVLAB_RETURN_IF_ERROR(Guest::Create(c, &guest));
  NVLAB_RETURN_IF_ERROR(guest->BootToTemplateStage());
  GuestTemplate t;
  t.dir = dir;
  t.key = key;
  t.state = dir / "state";
  t.console_log = dir / "console.log";
  NVLAB_RETURN_IF_ERROR(guest->SaveStateAndStop(t.state));
  NVLAB_RETURN_IF_ERROR(MemoryImageChecksum(t.state, &t.state_checksum));
  for (size_t i = 0; i < guest->ram_files().size(); ++i) {
    const fs::path ram = dir / ("ram" + std::to_string(i));
    uint64_t checksum = 0;
    NVLAB_RETURN_IF_ERROR(CopyMemoryImage(guest->ram_files()[i], ram, &checksum));
    t.ram_files.push_back(ram);
    t.ram_checksums.push_back(checksum);
  }
  std::error_code ec;
  fs::copy_file(guest->console_log(), t.console_log, fs::copy_options::overwrite_existing, ec);
  NVLAB_RETURN_IF_ERROR(WriteGuestTemplateManifest(t, inputs));
  return Status::Ok();  // synced when published
}

// LoadAndHold loads the template at dir and holds it (a shared lock on the folder) for as long
// as *out lives, so that no other nvlab removes it while this one restores from it.
Status LoadAndHold(const fs::path& dir, const std::string& key, int nodes, GuestTemplate* out) {
  std::shared_ptr<FileLock> hold;
  const Status held = image::HoldCacheFolder(dir, &hold);
  if (!held.ok()) return Status::NotFound(held.message());
  NVLAB_RETURN_IF_ERROR(LoadGuestTemplate(dir, key, nodes, out));
  out->hold = std::move(hold);
  return Status::Ok();
}

}  // namespace

Status GuestTemplateKey(const GuestConfig& config, std::string* key, std::string* inputs) {
  std::string qemu, kernel, initrd;
  NVLAB_RETURN_IF_ERROR(FileIdentity(ResolveProgram(config.qemu), true, &qemu));
  NVLAB_RETURN_IF_ERROR(FileIdentity(config.kernel, false, &kernel));
  NVLAB_RETURN_IF_ERROR(FileIdentity(config.initrd, false, &initrd));
  // The template boot's command line with placeholders for the run's own paths.
  QemuLaunch launch;
  launch.qemu = config.qemu;
  launch.accel = config.accel;
  launch.kernel = config.kernel;
  launch.initrd = config.initrd;
  for (size_t i = 0; i < config.machine.nvdimms.size(); ++i) {
    launch.nvdimm_files.push_back("@nvdimm" + std::to_string(i));
  }
  for (int n = 0; n < config.machine.numa_nodes; ++n) {
    launch.ram_files.push_back("@ram" + std::to_string(n));
  }
  launch.qmp_socket = "@qmp";
  launch.agent_socket = "@agent";
  launch.console_log = "@console";
  if (!config.share_dir.empty()) launch.share_dir = "@share";
  launch.deterministic = config.deterministic;
  launch.template_stage = true;
  launch.firmware = MinimalFirmwareFor(config.qemu);
  std::string argv;
  for (const std::string& a : QemuCommandLine(config.machine, launch)) argv += " " + a;
  *inputs = "input.qemu=" + qemu + "\ninput.kernel=" + kernel + "\ninput.initrd=" + initrd +
            "\ninput.argv=" + argv.substr(1) + "\n";
  image::Sha256Digest digest;
  digest.Update(kGuestTemplateFormat);
  digest.Update("\n" + *inputs);
  *key = digest.HexDigest().substr(0, 16);
  if (key->empty()) return Status::FailedPrecondition("libcrypto cannot compute SHA-256");
  return Status::Ok();
}

fs::path GuestTemplateDir(const fs::path& home, const std::string& key) {
  return home / "templates" / key;
}

Status EnsureGuestTemplate(const fs::path& home, const GuestConfig& config, GuestTemplate* out) {
  std::string key, inputs;
  NVLAB_RETURN_IF_ERROR(GuestTemplateKey(config, &key, &inputs));
  const fs::path dir = GuestTemplateDir(home, key);
  const int nodes = config.machine.numa_nodes;
  if (LoadAndHold(dir, key, nodes, out).ok()) return Status::Ok();
  std::error_code ec;
  fs::create_directories(home / "templates", ec);
  if (ec)
    return Status::IoError("cannot create " + (home / "templates").string() + ": " + ec.message());
  FileLock lock;
  NVLAB_RETURN_IF_ERROR(
      lock.Acquire(home / "templates" / (key + ".lock"), FileLock::Mode::kExclusive,
                   [&] { Log(config, "waiting for another nvlab building " + dir.string()); }));
  const Status loaded = LoadAndHold(dir, key, nodes, out);
  if (loaded.ok()) return Status::Ok();  // built while this process waited
  if (fs::exists(dir, ec)) {
    Log(config, "warm-start template " + dir.string() + " is stale (" + loaded.message() +
                    "): building it again");
    // Another nvlab restoring from it keeps it: this run then boots cold.
    bool removed = false;
    NVLAB_RETURN_IF_ERROR(image::TryRemoveCacheFolder(dir, &removed));
    if (!removed) {
      return Status::FailedPrecondition("the warm-start template " + dir.string() +
                                        " is stale and a running nvlab uses it");
    }
  } else {
    Log(config, "building the warm-start template " + dir.string() +
                    " (a cold boot, once per image and machine)");
  }
  std::random_device random;
  const fs::path temp =
      home / "templates" /
      ("tmp-" + key + "-" + std::to_string(getpid()) + "-" + std::to_string(random() % 1000000));
  fs::remove_all(temp, ec);
  if (!fs::create_directories(temp, ec) || ec) {
    return Status::IoError("cannot create " + temp.string() + ": " + ec.message());
  }
  fs::permissions(temp, fs::perms::owner_all, ec);
  Status built = BuildTemplate(config, key, inputs, temp);
  // Every file and the folder are fsynced before the rename, and the parent after it.
  if (built.ok()) built = image::PublishCacheFolder(temp, dir);
  if (!built.ok()) {
    fs::remove_all(temp, ec);
    return built.WithContext("building the warm-start template");
  }
  return LoadAndHold(dir, key, nodes, out);
}

}  // namespace nvlab
