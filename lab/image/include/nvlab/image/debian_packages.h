// File: nvlab/image/debian_packages.h
//
// The Debian packages an image is built from: asking apt which versions it would take, fetching
// them with `apt-get download` into a cache of .deb files and unpacking them with `dpkg-deb -x`
// into a scratch root. Nothing is ever installed on the host.
//
// Thread-safety: plain functions; callers serialise writes to one cache folder (the image lock).

#ifndef NVLAB_IMAGE_DEBIAN_PACKAGES_H_
#define NVLAB_IMAGE_DEBIAN_PACKAGES_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::image {

struct DebianPackage {
  std::string name;     // "ndctl"
  std::string version;  // "76.1-1" (may contain an epoch: "1:1.35.0-4")
  std::string sha256;   // of the .deb, as apt's index gives it
};

// AptListsFingerprint hashes the names, sizes and modification times of apt's package lists
// (/var/lib/apt/lists) and preferences: the candidate versions can only change when it does.
Status AptListsFingerprint(std::string* fingerprint);

// ParseAptDepends reads `apt-cache depends` output and returns the packages that the listed
// ones Depend or PreDepend on whose names start with "lib" (shared libraries; tools such as
// python3 are left out: the image copies only the libraries its programs load).
std::vector<std::string> ParseLibraryDepends(std::string_view apt_cache_depends_output);

// ParseAptShow reads `apt-cache show --no-all-versions` output (Package, Version, SHA256).
std::vector<DebianPackage> ParseAptShow(std::string_view apt_cache_show_output);

// ResolveMetapackage returns the first package a metapackage depends on whose name starts
// with prefix (linux-image-amd64 -> linux-image-6.1.0-56-amd64).
Status ResolveMetapackage(const std::string& metapackage, const std::string& prefix,
                          std::string* name);

// ResolvePackageSet returns roots plus, transitively, the library packages they depend on,
// with the versions apt would download now, sorted by name.
Status ResolvePackageSet(const std::vector<std::string>& roots,
                         std::vector<DebianPackage>* packages);

// DebFilePrefix is how apt-get download names package's file up to the architecture:
// "name_version_" with ':' in the version written as %3a.
std::string DebFilePrefix(const DebianPackage& package);

// FetchPackage returns in *deb the cached .deb of package in cache_dir, downloading it (in a
// folder of its own under work_dir) when missing. The file's SHA-256 must match the index.
Status FetchPackage(const DebianPackage& package, const std::filesystem::path& cache_dir,
                    const std::filesystem::path& work_dir, std::filesystem::path* deb);

// UnpackPackage extracts a .deb's files under root (dpkg-deb -x; no maintainer scripts run).
Status UnpackPackage(const std::filesystem::path& deb, const std::filesystem::path& root);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_DEBIAN_PACKAGES_H_
