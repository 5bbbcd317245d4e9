// File: nvlab/qemu_host.h
//
// Checks of the host before a guest boots, so that a missing or old QEMU, or a /dev/kvm that
// cannot run stock kernels, is a clear message instead of a hang.
//
// Thread-safety: the functions run child processes and read /proc and /sys; no shared state.

#ifndef NVLAB_QEMU_HOST_H_
#define NVLAB_QEMU_HOST_H_

#include <filesystem>
#include <string>

#include "nvlab/status.h"

namespace nvlab {

// CheckQemu runs `qemu --version` and requires at least major.minor (10.0: the plugin API that
// reads registers and stored values). NotFound when it is not installed, NotSupported when old.
Status CheckQemu(const std::string& qemu, int major, int minor, std::string* version);

// CheckQemuCached is CheckQemu with the version kept in cache_dir/qemu-version (NVLAB_HOME),
// keyed by the program's identity (nvlab/program_identity.h: resolved path, size, mtime,
// inode): asking QEMU starts it, 0.1 s of every run otherwise. An entry for another binary, or
// one that does not read as a version, is replaced; a cache that cannot be written is only not
// kept. The version requirement is checked on the cached answer too.
Status CheckQemuCached(const std::string& qemu, int major, int minor,
                       const std::filesystem::path& cache_dir, std::string* version);

// CheckKvm says whether --accel kvm can work here: /dev/kvm must open, and it must not be the
// kvm-pvm module (no VMX/SVM), under which stock kernels hang silently.
Status CheckKvm();

}  // namespace nvlab

#endif  // NVLAB_QEMU_HOST_H_
