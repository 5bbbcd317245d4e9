// File: nvlab/guest_template.h
//
// A GuestTemplate is a guest saved at the template stage: booted, its agent connected, no
// NVDIMM touched, no file system mounted (docs/design/warm-starts.md). A warm start restores it
// instead of booting: each run copies the template's RAM into its own RAM files, a new QEMU with
// the run's own NVDIMM files loads the saved device and vCPU state, and the agent's resume
// request reseeds the RNG, sets the clock and sets the NVDIMMs up.
//
// On disk, a folder NVLAB_HOME/templates/<key>/ (nvlab/guest_template_cache.h builds it):
//   state        QEMU's migration stream, saved with x-ignore-shared (devices and vCPUs; the
//                memory is in the RAM files)
//   ram<N>       the guest RAM of NUMA node N (sparse)
//   console.log  the console of the boot that made the template
//   manifest     "key=value" lines: format, key, what the key was made of, every file's size
//                and checksum (nvlab/memory_image_file.h)
// A template is read-only once published; runs never write to it, and hold a shared lock on the
// folder while they restore from it: a stale template a run holds is not removed.

#ifndef NVLAB_GUEST_TEMPLATE_H_
#define NVLAB_GUEST_TEMPLATE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "nvlab/file_lock.h"
#include "nvlab/status.h"

namespace nvlab {

struct GuestTemplate {
  std::filesystem::path dir;
  std::string key;
  std::filesystem::path state;
  uint64_t state_checksum = 0;
  std::vector<std::filesystem::path> ram_files;  // one per NUMA node
  std::vector<uint64_t> ram_checksums;
  std::filesystem::path console_log;
  // hold: a shared lock on `dir` while this template (or a copy) is in use
  // (nvlab/image/cache_folder.h); EnsureGuestTemplate sets it, LoadGuestTemplate does not.
  std::shared_ptr<FileLock> hold;
};

// The manifest's format line; a manifest in another format is stale.
inline constexpr char kGuestTemplateFormat[] = "nvlab-guest-template-1";

// WriteGuestTemplateManifest writes dir/manifest for t (its files must be in dir), with
// `inputs` (the text the key was made from, one "input=..." line per entry) for people reading
// the cache.
Status WriteGuestTemplateManifest(const GuestTemplate& t, const std::string& inputs);

// LoadGuestTemplate reads dir/manifest and checks what is cheap to check: the format, the key
// (it must equal `key`), that every file exists with its recorded size, and the state file's
// checksum. The RAM files' checksums are verified while a run copies them (CopyMemoryImage).
// NotFound when the template is missing, incomplete or stale, with the reason.
Status LoadGuestTemplate(const std::filesystem::path& dir, const std::string& key, int numa_nodes,
                         GuestTemplate* out);

}  // namespace nvlab

#endif  // NVLAB_GUEST_TEMPLATE_H_
