// File: nvlab/image/guest_image_layers.h
//
// The two layers of a guest image (see nvlab/guest_image.h) and how each is built. The base
// layer's recipe (packages, programs, modules) is fixed here; its cache key is a hash of the
// recipe's version and the package versions. The tools layer's key is a hash of its files.
//
// Thread-safety: callers hold the image lock while building; the scans are read-only.

#ifndef NVLAB_IMAGE_GUEST_IMAGE_LAYERS_H_
#define NVLAB_IMAGE_GUEST_IMAGE_LAYERS_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/guest_image.h"
#include "nvlab/image/debian_packages.h"
#include "nvlab/image/kernel_modules.h"
#include "nvlab/status.h"

namespace nvlab::image {

// File names inside a base layer folder.
inline constexpr char kVmlinuxFile[] = "vmlinux";
inline constexpr char kBaseCpioFile[] = "base.cpio";
inline constexpr char kBaseManifestFile[] = "base.json";
inline constexpr char kKernelReleaseFile[] = "kernel_release";
// kVmlinuxChecksumFile holds vmlinux's {"sha256", "size"} so that images need not hash 60 MB.
inline constexpr char kVmlinuxChecksumFile[] = "vmlinux.json";
// File names inside an image folder.
inline constexpr char kToolsCpioFile[] = "tools.cpio";
inline constexpr char kInitramfsFile[] = "initramfs.cpio";
inline constexpr char kManifestFile[] = "manifest.json";

// BaseLayerRootPackages are the packages whose programs the guest runs (their library
// dependencies are added by ResolvePackageSet); the kernel package comes from
// kKernelMetapackage.
std::vector<std::string> BaseLayerRootPackages();
inline constexpr char kKernelMetapackage[] = "linux-image-amd64";
inline constexpr char kKernelPackagePrefix[] = "linux-image-";

// BaseLayerModules lists the kernel modules the guest may load.
std::vector<ModuleRequest> BaseLayerModules();

// BaseLayerKey names the base layer built from packages (16 hex digits).
std::string BaseLayerKey(const std::vector<DebianPackage>& packages);

// BuildBaseLayer downloads (into packages_dir, a cache), unpacks (under work_dir) and assembles
// the base layer into out_dir: vmlinux, base.cpio, base.json, kernel_release. progress, when
// set, names each package fetched and each step after (a terminal's progress line).
Status BuildBaseLayer(const std::vector<DebianPackage>& packages,
                      const std::filesystem::path& packages_dir,
                      const std::filesystem::path& work_dir, const std::filesystem::path& out_dir,
                      std::ostream* log, ProgressLine* progress = nullptr);

// ToolFile is one file of the tools layer.
struct ToolFile {
  std::string guest_path;  // "init", "usr/bin/nvlab-agent"
  std::filesystem::path host_path;
  std::string sha256;
  std::uint64_t size = 0;
};

// The guest's boot scripts, from the guest data folder (share/nvlab/guest): init as /init
// (lab/guest/README.md). The NVDIMM setup is the agent's, a guest program like the others.
inline constexpr const char* kGuestBootScripts[][2] = {{"init", "init"}};

// ScanToolsLayer lists the tools layer's files (the boot scripts of guest_data_dir, each regular
// file under tools_dir in usr/bin/) with their checksums, and returns its key (16 hex digits).
// A boot script missing: NotFound. tools_dir missing: no tools.
Status ScanToolsLayer(const std::filesystem::path& guest_data_dir,
                      const std::filesystem::path& tools_dir, std::vector<ToolFile>* files,
                      std::string* key);

// WriteToolsCpio writes the tools layer's cpio (every file executable).
Status WriteToolsCpio(const std::vector<ToolFile>& files, const std::filesystem::path& cpio_path);

// KernelTaskLayoutJson gives the manifest's "kernel_task_layout" object, on one line:
//   {"current_task":"0x1fb80","comm":2976,"pid":2416,"tgid":2420}
// (the per-CPU offset in hex: where .data..percpu is linked at a kernel address it is beyond
// JSON's exact integers).
std::string KernelTaskLayoutJson(const KernelTaskLayout& layout);

// VerifyCachedImage checks a published image folder against its manifest.json before use: every
// file the manifest's "files" lists is there with its size and SHA-256. The full check is
// skipped while the files are the very ones checked last time (same device, inode, size,
// modification and change time, recorded in the folder's `verified` file), so an unchanged image
// costs a few stat(2) calls. FailedPrecondition with the reason ("initramfs.cpio holds 12
// bytes, its manifest says 29686096") when the image must be rebuilt.
Status VerifyCachedImage(const std::filesystem::path& image_dir);

// ReadManifestKernelTaskLayout reads "kernel_task_layout" from an image manifest written by
// EnsureGuestImage. A manifest without it (a kernel without BTF) gives nullopt and OK. Text that
// is not a JSON object, or a layout that is not exactly the four fields above with their types:
// InvalidArgument naming the field.
Status ReadManifestKernelTaskLayout(std::string_view manifest,
                                    std::optional<KernelTaskLayout>* layout);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_GUEST_IMAGE_LAYERS_H_
