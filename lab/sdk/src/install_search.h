// install_search.h -- where the SDK finds nvlab's install (private to lab/sdk; the unit tests
// include it). docs/design/sdk.md, "How the SDK finds nvlab".
//
// Thread-safety: a pure function of its arguments and the file system.

#ifndef NVLAB_SDK_SRC_INSTALL_SEARCH_H_
#define NVLAB_SDK_SRC_INSTALL_SEARCH_H_

#include <filesystem>
#include <string>

#include "nvlab/install_layout.h"
#include "nvlab/status.h"

namespace nvlab {

// InstallSearch is what the search looks at, in this order: the first one given is used (a
// wrong one is an error, not skipped), and only the PATH search looks further.
struct InstallSearch {
  std::filesystem::path configured;      // LabConfig::prefix
  std::string env_prefix;                // $NVLAB_PREFIX
  std::filesystem::path package_prefix;  // NVLAB_INSTALL_PREFIX of the CMake package
  std::string path_env;                  // $PATH: the install of the first `nvlab` on it
};

// FindInstall fills *layout (InstallLayout::FromPrefix) and *how ("LabConfig::prefix",
// "NVLAB_PREFIX", "the CMake package", "nvlab on PATH"). NotFound naming what was tried when
// nothing gives an install with a machines folder.
Status FindInstall(const InstallSearch& search, InstallLayout* layout, std::string* how);

}  // namespace nvlab

#endif  // NVLAB_SDK_SRC_INSTALL_SEARCH_H_
