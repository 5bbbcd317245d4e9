// install_search.cc -- FindInstall.

#include "install_search.h"

#include <system_error>

namespace nvlab {
namespace {

Status FromPrefixChecked(const std::filesystem::path& prefix, const std::string& how,
                         InstallLayout* layout) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(prefix, ec);
  *layout = InstallLayout::FromPrefix(ec ? prefix : absolute.lexically_normal());
  if (!std::filesystem::is_directory(layout->machines_dir, ec)) {
    return Status::NotFound("no nvlab install at " + prefix.string() + " (from " + how +
                            "): " + layout->machines_dir.string() + " is missing");
  }
  return Status::Ok();
}

}  // namespace

Status FindInstall(const InstallSearch& search, InstallLayout* layout, std::string* how) {
  if (!search.configured.empty()) {
    *how = "LabConfig::prefix";
    return FromPrefixChecked(search.configured, *how, layout);
  }
  if (!search.env_prefix.empty()) {
    *how = "NVLAB_PREFIX";
    return FromPrefixChecked(search.env_prefix, *how, layout);
  }
  if (!search.package_prefix.empty()) {
    *how = "the CMake package";
    return FromPrefixChecked(search.package_prefix, *how, layout);
  }
  *how = "nvlab on PATH";
  std::string_view path = search.path_env;
  while (true) {
    const size_t colon = path.find(':');
    const std::string_view dir = path.substr(0, colon);
    if (!dir.empty()) {
      std::error_code ec;
      const std::filesystem::path exe = std::filesystem::path(dir) / "nvlab";
      const std::filesystem::path real = std::filesystem::canonical(exe, ec);
      if (!ec && std::filesystem::is_regular_file(real, ec)) {
        return InstallLayout::FromExecutablePath(real, layout);
      }
    }
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return Status::NotFound(
      "cannot find nvlab's install: set LabConfig::prefix or NVLAB_PREFIX, build against the "
      "installed CMake package (find_package(nvlab)), or put its bin/nvlab on PATH");
}

}  // namespace nvlab
