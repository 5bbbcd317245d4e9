// File: nvlab/install_layout.h
//
// InstallLayout finds what nvlab needs relative to the nvlab executable itself, so an installed
// copy works from any prefix with no environment variable, and the build tree (which mirrors the
// install layout under build/<preset>/stage) works the same way:
//
//   PREFIX/bin/nvlab
//   PREFIX/libexec/nvlab/nvlab-plugin.so      the persistence model (QEMU TCG plugin)
//   PREFIX/libexec/nvlab/nvlab-qemu           the <emulator> of libvirt domains: execs QEMU with
//                                             one TCG thread and the plugin's ram= added
//   PREFIX/libexec/nvlab/guest/               static programs copied into the guest image
//   PREFIX/share/nvlab/machines/*.machine     machine definitions
//   PREFIX/share/nvlab/guest/init             the guest's init script
//
// Thread-safety: plain values.

#ifndef NVLAB_INSTALL_LAYOUT_H_
#define NVLAB_INSTALL_LAYOUT_H_

#include <filesystem>

#include "nvlab/status.h"

namespace nvlab {

struct InstallLayout {
  std::filesystem::path prefix;
  std::filesystem::path plugin;
  std::filesystem::path emulator;  // nvlab-qemu (docs/design/libvirt.md)
  std::filesystem::path guest_tools_dir;
  std::filesystem::path guest_data_dir;
  std::filesystem::path machines_dir;

  // FromPrefix lays the paths out under prefix.
  static InstallLayout FromPrefix(const std::filesystem::path& prefix);
  // FromExecutable derives the prefix from /proc/self/exe (PREFIX/bin/nvlab).
  static Status FromExecutable(InstallLayout* out);
  // FromExecutablePath derives it from the path of an installed nvlab (PREFIX/bin/nvlab): how
  // the SDK finds the install of the `nvlab` on PATH. NotFound when the machines folder is not
  // there.
  static Status FromExecutablePath(const std::filesystem::path& exe, InstallLayout* out);
};

}  // namespace nvlab

#endif  // NVLAB_INSTALL_LAYOUT_H_
