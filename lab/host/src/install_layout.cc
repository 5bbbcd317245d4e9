// install_layout.cc -- InstallLayout::FromPrefix, FromExecutable, FromExecutablePath.

#include "nvlab/install_layout.h"

namespace nvlab {

InstallLayout InstallLayout::FromPrefix(const std::filesystem::path& prefix) {
  InstallLayout layout;
  layout.prefix = prefix;
  layout.plugin = prefix / NVLAB_REL_LIBEXECDIR / "nvlab-plugin.so";
  layout.emulator = prefix / NVLAB_REL_LIBEXECDIR / "nvlab-qemu";
  layout.guest_tools_dir = prefix / NVLAB_REL_GUESTDIR;
  layout.guest_data_dir = prefix / NVLAB_REL_DATADIR / "guest";
  layout.machines_dir = prefix / NVLAB_REL_DATADIR / "machines";
  return layout;
}

Status InstallLayout::FromExecutable(InstallLayout* out) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return Status::IoError("cannot read /proc/self/exe: " + ec.message());
  return FromExecutablePath(exe, out);
}

Status InstallLayout::FromExecutablePath(const std::filesystem::path& exe, InstallLayout* out) {
  std::error_code ec;
  // PREFIX/bin/nvlab: two levels up, whatever the bin folder is called.
  const std::filesystem::path bindir = exe.parent_path();
  std::filesystem::path prefix = bindir.parent_path();
  for (std::filesystem::path rel = NVLAB_REL_BINDIR; rel.has_parent_path() && rel != "/";
       rel = rel.parent_path()) {
    prefix = prefix.parent_path();  // a multi-level bindir (rare) takes more steps up
  }
  *out = FromPrefix(prefix);
  if (!std::filesystem::is_directory(out->machines_dir, ec)) {
    return Status::NotFound("nvlab's machine definitions are missing: expected " +
                            out->machines_dir.string() + " beside " + exe.string());
  }
  return Status::Ok();
}

}  // namespace nvlab
