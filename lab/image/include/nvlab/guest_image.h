// File: nvlab/guest_image.h
//
// The guest image: the Linux kernel and initramfs every nvlab guest boots, built on the host from
// Debian packages (never installed on the host) and cached in NVLAB_HOME.
//
// An image is two layers, each cached apart:
//   - the base layer: the kernel (the uncompressed PVH `vmlinux`, extracted from Debian's
//     bzImage, which QEMU boots directly with -kernel) and a newc cpio holding busybox-static,
//     ndctl, mke2fs and mkfs.xfs with their shared libraries and the dynamic loader, and the
//     kernel modules the lab needs (NFIT, libnvdimm, pmem, device-dax, ext4, xfs, virtio-serial,
//     9p) with their dependencies and a modules.dep. It is rebuilt only when the version of one
//     of its Debian packages changes (after `apt-get update` brings a new one).
//   - the tools layer: a cpio with the init script (as /init) and every file of the guest tools
//     folder (in /usr/bin), rebuilt whenever the content of one of those files changes.
// The initramfs handed to the kernel is the base cpio followed by the tools cpio (Linux unpacks
// concatenated newc archives in order). Neither is compressed: decompression dominates a boot
// under TCG.
//
// Layout of NVLAB_HOME (everything below it is nvlab's; delete it to start over; the /tmp
// fallback must be private: PrepareNvlabHome):
//   lock                      flock(2)ed while a layer is built
//   packages/                 downloaded .deb files, by name and version
//   apt/<fingerprint>.txt     which package versions the apt lists named when last asked
//   base/<key>/               vmlinux, base.cpio, base.json (one folder per package set)
//   images/<key>/             vmlinux (hard link), initramfs.cpio, tools.cpio, manifest.json,
//                             verified (the files' identities at their last full check)
//   tmp/                      layers under construction (renamed into place when complete)
// Folders under base/ and images/ are named by a hash of their inputs and never change once
// renamed into place (after every file and the folder are fsynced), so a reader never sees a
// half-written image and several guests may boot from one image while another process builds a
// different one. Before use an image is checked against its manifest's checksums
// (image::VerifyCachedImage); a damaged one is rebuilt, with one line saying why. A user holds a
// shared lock on the image folder for as long as it keeps the GuestImage. After each build the 8
// newest images are kept, and older ones removed unless a running nvlab holds them; base layers
// none of them uses and .deb files of other versions are deleted.
//
// Thread-safety: EnsureGuestImage may be called concurrently from threads and processes (several
// nvlab commands, several test processes) on the same home; builds are serialised by the lock.

#ifndef NVLAB_GUEST_IMAGE_H_
#define NVLAB_GUEST_IMAGE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "nvlab/file_lock.h"
#include "nvlab/formats/kernel_task_layout.h"
#include "nvlab/progress_line.h"
#include "nvlab/status.h"

namespace nvlab {

// GuestImageSpec says what to build and where.
struct GuestImageSpec {
  // home is the cache folder (NVLAB_HOME). Default (empty): DefaultNvlabHome().
  std::filesystem::path home;
  // guest_tools_dir holds the static guest programs (libexec/nvlab/guest); each regular file
  // below it goes to the guest's /usr/bin under the same relative path, executable. It may be
  // missing or empty (the image then has no nvlab-agent, and init says so at boot).
  std::filesystem::path guest_tools_dir;
  // guest_data_dir is share/nvlab/guest: its `init` becomes the guest's /init
  // (image::kGuestBootScripts). Required.
  std::filesystem::path guest_data_dir;
  // log receives one line per step taken (nvlab -v); nullptr: silent.
  std::ostream* log = nullptr;
  // notices: one line when a cached image is damaged and rebuilt (nvlab passes stderr); nullptr:
  // that line goes to log.
  std::ostream* notices = nullptr;
  // check_packages: ask apt whether the base layer's package versions changed. The answer is
  // cached per state of apt's package lists, so this costs a few stat(2) calls unless
  // `apt-get update` ran since; false skips apt entirely and uses the newest base layer present
  // (offline use). Default: true.
  bool check_packages = true;
  // progress: the terminal's progress line (nvlab/progress_line.h): the package being fetched
  // and the build's steps; nullptr: none. EnsureGuestImage ends its wait when it returns.
  ProgressLine* progress = nullptr;
};

// kGuestKernelHz is the guest kernel's tick rate (CONFIG_HZ of Debian 12's amd64 kernel). The
// launcher derives timer parameters from it (nvlab/guest_timer_calibration.h); building a base
// layer checks it against the kernel package's configuration.
constexpr int kGuestKernelHz = 250;

// GuestImage names the files of a complete image; they stay valid (never rewritten) until the
// folder is deleted by a user.
struct GuestImage {
  std::filesystem::path dir;       // images/<key>/
  std::filesystem::path kernel;    // dir/vmlinux: uncompressed ELF with a PVH entry (-kernel)
  std::filesystem::path initrd;    // dir/initramfs.cpio: base + tools cpio (-initrd)
  std::filesystem::path manifest;  // dir/manifest.json: package versions, checksums of all files
  std::string kernel_release;      // e.g. "6.1.0-56-amd64" (uname -r in the guest)
  // kernel_task_layout is read from the kernel's BTF when the image is built, and recorded in
  // the manifest ("kernel_task_layout"). Absent when the kernel has no BTF (built without
  // CONFIG_DEBUG_INFO_BTF) or its BTF does not describe the task in a known shape (the image
  // still builds; nvlab -v says why).
  std::optional<KernelTaskLayout> kernel_task_layout;
  // hold is a shared lock on `dir` (nvlab/image/cache_folder.h), shared by every copy of this
  // GuestImage: while one lives, no nvlab's pruning removes the image.
  std::shared_ptr<FileLock> hold;
};

// EnsureGuestImage makes sure an image for spec exists, building whichever layer is missing or
// stale, and fills *out. Idempotent: when nothing changed it writes nothing and returns quickly.
// Needs apt-get, apt-cache, dpkg-deb, depmod and the decompressor of the kernel's payload (xz,
// zstd, gzip, ...) only when the base layer is (re)built. Errors: NotFound (init script,
// package, program, module or host tool missing), IoError (file system), FailedPrecondition
// (a tool failed: the message carries the last lines of its stderr), InvalidArgument (a
// kernel that cannot be booted with -kernel).
Status EnsureGuestImage(const GuestImageSpec& spec, GuestImage* out);

// DefaultNvlabHome returns $NVLAB_HOME if set and non-empty, else $XDG_CACHE_HOME/nvlab, else
// $HOME/.cache/nvlab, else (HOME unset or empty) TmpNvlabHome().
std::filesystem::path DefaultNvlabHome();

// TmpNvlabHome is the fallback home: $TMPDIR/nvlab-<uid> when TMPDIR is an absolute path, else
// /tmp/nvlab-<uid>.
std::filesystem::path TmpNvlabHome();

// PrepareNvlabHome creates `home` when missing. The TmpNvlabHome() fallback lies where every
// user may create files, so it is created 0700 and refused (FailedPrecondition, saying why) when
// it is not a folder (a symlink included), belongs to another user, or is writable by group or
// others. EnsureGuestImage calls it; so does nvlab before it writes anything else there.
Status PrepareNvlabHome(const std::filesystem::path& home);

}  // namespace nvlab

#endif  // NVLAB_GUEST_IMAGE_H_
