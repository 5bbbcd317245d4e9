// File: nvlab/guest_template_cache.h
//
// The warm-start templates of NVLAB_HOME (nvlab/guest_template.h), one per template key. The
// key covers everything that shapes the saved guest: the template format, the QEMU binary (path,
// size, modification time, inode: an upgrade makes a new key), the guest image's kernel and
// initramfs (path, size, modification time; the image's own key is in their path), and the
// QEMU command line of the template boot with the run's own paths left out (machine, CPU,
// memory, NVDIMM sizes and addresses, accelerator, --deterministic, a host share or none).
// The persistence model, the NVDIMM content and the namespace mode are not in it: a template
// is saved before the NVDIMMs are touched, and the resume request carries the namespace mode.
//
// EnsureGuestTemplate builds a missing or stale template under an exclusive lock on
// templates/<key>.lock, in a temporary folder that is renamed into place once complete and
// synced (image::PublishCacheFolder), so that concurrent first uses build it once and a killed
// build leaves nothing a later run would load. The template it returns is held (a shared lock
// on its folder, GuestTemplate::hold) while the caller keeps it; a stale template that another
// run holds is not removed (an error: the caller boots cold).
//
// Thread-safety: free functions; processes coordinate through the lock files.

#ifndef NVLAB_GUEST_TEMPLATE_CACHE_H_
#define NVLAB_GUEST_TEMPLATE_CACHE_H_

#include <filesystem>
#include <string>

#include "nvlab/guest.h"
#include "nvlab/guest_template.h"
#include "nvlab/status.h"

namespace nvlab {

// GuestTemplateKey computes the key of the template a guest with `config` restores from, and the
// "input.*=..." lines it was made from. NotFound when the QEMU binary, kernel or initramfs is
// missing.
Status GuestTemplateKey(const GuestConfig& config, std::string* key, std::string* inputs);

// GuestTemplateDir is where the template of `key` lives.
std::filesystem::path GuestTemplateDir(const std::filesystem::path& home, const std::string& key);

// EnsureGuestTemplate returns the template for config, building it when it is missing or stale:
// a cold boot of the same machine (persistence model off, scratch NVDIMMs, an empty share folder
// when config shares one) to the template stage, then saved. Progress lines go to config.log.
Status EnsureGuestTemplate(const std::filesystem::path& home, const GuestConfig& config,
                           GuestTemplate* out);

}  // namespace nvlab

#endif  // NVLAB_GUEST_TEMPLATE_CACHE_H_
