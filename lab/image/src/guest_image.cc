// guest_image.cc -- EnsureGuestImage: cache keys, the lock, atomic renames; DefaultNvlabHome;
// the manifest's kernel task layout (KernelTaskLayoutJson, ReadManifestKernelTaskLayout).

#include "nvlab/guest_image.h"
#include "nvlab/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include "manifest_json.h"
#include "nvlab/file_contents.h"
#include "nvlab/formats/kernel_btf.h"
#include "nvlab/hex.h"
#include "nvlab/image/cache_folder.h"
#include "nvlab/image/debian_packages.h"
#include "nvlab/image/guest_image_layers.h"
#include "nvlab/image/sha256_digest.h"

namespace nvlab {
namespace image {
namespace {

constexpr char kLayoutKey[] = "kernel_task_layout";

// LayoutJson is the manifest's kernel_task_layout object. The per-CPU offset is a hex string:
// on kernels that link .data..percpu at a kernel address it exceeds JSON's exact integers.
Json LayoutJson(const KernelTaskLayout& layout) {
  return Json{{"current_task", FormatHex(layout.current_task_percpu_offset)},
              {"comm", layout.task_comm_offset},
              {"pid", layout.task_pid_offset},
              {"tgid", layout.task_tgid_offset}};
}

// OffsetField reads object[name], an unsigned number that fits 32 bits.
Status OffsetField(const Json& object, const char* name, const std::string& what,
                   std::uint32_t* offset) {
  auto field = object.find(name);
  if (field == object.end() || !field->is_number_unsigned() ||
      field->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
    return Status::InvalidArgument(what + "." + name +
                                   " is missing or not an unsigned 32-bit number");
  }
  *offset = static_cast<std::uint32_t>(field->get<std::uint64_t>());
  return Status::Ok();
}

// ReadKernelTaskLayout reads the manifest's kernel_task_layout; none when it is absent.
Status ReadKernelTaskLayout(const Json& manifest, std::optional<KernelTaskLayout>* layout) {
  layout->reset();
  auto field = manifest.find(kLayoutKey);
  // A kernel without BTF (or a task layout in an unknown shape) leaves the field out.
  if (field == manifest.end()) return Status::Ok();
  const std::string what = std::string("image manifest: ") + kLayoutKey;
  if (!field->is_object() || field->size() != 4) {
    return Status::InvalidArgument(
        what + " must be {\"current_task\": \"0x...\", \"comm\": N, \"pid\": N, \"tgid\": N}");
  }
  KernelTaskLayout read;
  std::string current_task;
  NVLAB_RETURN_IF_ERROR(StringField(*field, "current_task", what, &current_task));
  if (current_task.rfind("0x", 0) != 0 ||
      !ParseHexDigits(std::string_view(current_task).substr(2), &read.current_task_percpu_offset)) {
    return Status::InvalidArgument(
        what + ".current_task is not \"0x\" and 1 to 16 hex digits: " + current_task);
  }
  NVLAB_RETURN_IF_ERROR(OffsetField(*field, "comm", what, &read.task_comm_offset));
  NVLAB_RETURN_IF_ERROR(OffsetField(*field, "pid", what, &read.task_pid_offset));
  NVLAB_RETURN_IF_ERROR(OffsetField(*field, "tgid", what, &read.task_tgid_offset));
  *layout = read;
  return Status::Ok();
}

}  // namespace

std::string KernelTaskLayoutJson(const KernelTaskLayout& layout) {
  return LayoutJson(layout).dump();
}

Status ReadManifestKernelTaskLayout(std::string_view manifest,
                                    std::optional<KernelTaskLayout>* layout) {
  layout->reset();
  Json object;
  NVLAB_RETURN_IF_ERROR(ParseJsonObject(manifest, "image manifest", &object));
  return ReadKernelTaskLayout(object, layout);
}

}  // namespace image

namespace {

namespace fs = std::filesystem;
using image::DebianPackage;

// kImageFormat is part of every image's key and its manifest's "format"; bump it when what an
// image holds changes, so that images cached by another nvlab are rebuilt (cheaply: the base
// layer stays).
constexpr char kImageFormat[] = "nvlab-image-2";
// kKeptImages: images kept after a build (the newest by build time). Each tools change makes
// a new image (some 20 MB); keeping several lets build trees with different guest tools take
// turns without rebuilding, and an image returned to one process is not deleted under it
// unless that many builds happen before its QEMU starts.
constexpr std::size_t kKeptImages = 8;

void Log(const GuestImageSpec& spec, const std::string& line) {
  if (spec.log != nullptr) *spec.log << "nvlab image: " << line << std::endl;
}

Status MakeDirectories(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return Status::IoError("cannot create " + dir.string() + ": " + error.message());
  return Status::Ok();
}

// MakeTempDir creates a fresh folder under <home>/tmp for a layer under construction.
Status MakeTempDir(const fs::path& home, const std::string& what, fs::path* dir) {
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path candidate =
        home / "tmp" /
        (what + "-" + std::to_string(getpid()) + "-" + std::to_string(random() % 1000000));
    std::error_code error;
    if (fs::create_directories(candidate, error)) {
      *dir = candidate;
      return Status::Ok();
    }
    if (error) return Status::IoError("cannot create " + candidate.string());
  }
  return Status::IoError("cannot create a temporary folder under " + (home / "tmp").string());
}

// PublishDir syncs a completed folder and renames it into place (image::PublishCacheFolder).
Status PublishDir(const fs::path& temp, const fs::path& final_dir) {
  return image::PublishCacheFolder(temp, final_dir);
}

// Resolution file: which packages and versions apt named, one "name version sha256" a line.
std::string FormatResolution(const std::vector<DebianPackage>& packages) {
  std::string text;
  for (const DebianPackage& package : packages) {
    text += package.name + " " + package.version + " " + package.sha256 + "\n";
  }
  return text;
}

bool ParseResolution(const std::string& text, std::vector<DebianPackage>* packages) {
  std::istringstream lines(text);
  std::string line;
  packages->clear();
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    DebianPackage package;
    if (!(fields >> package.name >> package.version >> package.sha256)) return false;
    packages->push_back(package);
  }
  return !packages->empty();
}

// ResolveBasePackages returns the package set apt would use now, cached per apt lists state.
Status ResolveBasePackages(const fs::path& home, const GuestImageSpec& spec,
                           std::vector<DebianPackage>* packages) {
  std::string fingerprint;
  NVLAB_RETURN_IF_ERROR(image::AptListsFingerprint(&fingerprint));
  fs::path cached = home / "apt" / (fingerprint + ".txt");
  std::string text;
  if (ReadFileContents(cached, &text).ok() && ParseResolution(text, packages)) {
    return Status::Ok();
  }
  Log(spec, "asking apt for the package versions (apt lists changed or first use)");
  std::string kernel_package;
  NVLAB_RETURN_IF_ERROR(image::ResolveMetapackage(image::kKernelMetapackage,
                                                  image::kKernelPackagePrefix, &kernel_package));
  std::vector<std::string> roots = image::BaseLayerRootPackages();
  roots.push_back(kernel_package);
  NVLAB_RETURN_IF_ERROR(image::ResolvePackageSet(roots, packages));
  NVLAB_RETURN_IF_ERROR(MakeDirectories(home / "apt"));
  return WriteFileAtomically(cached, FormatResolution(*packages));
}

// NewestBaseLayer returns the key of the most recently built complete base layer.
Status NewestBaseLayer(const fs::path& home, std::string* key) {
  std::error_code error;
  fs::file_time_type newest{};
  for (const fs::directory_entry& entry : fs::directory_iterator(home / "base", error)) {
    std::error_code time_error;
    auto time = fs::last_write_time(entry.path() / image::kBaseManifestFile, time_error);
    if (time_error) continue;
    if (key->empty() || time > newest) {
      newest = time;
      *key = entry.path().filename().string();
    }
  }
  if (key->empty()) {
    return Status::NotFound("no guest image base layer in " + (home / "base").string() +
                            " yet (build one with package checks on: `nvlab image`)");
  }
  return Status::Ok();
}

// ImageKeys name an image and its two layers (16 hex digits each).
struct ImageKeys {
  std::string image;
  std::string base;
  std::string tools;
};

// ChooseBaseLayer picks the base layer: the one the current package versions make (resolved
// through apt, cached) or, with package checks off or apt unusable, the newest one built.
Status ChooseBaseLayer(const fs::path& home, const GuestImageSpec& spec,
                       std::vector<DebianPackage>* packages, std::string* base_key) {
  if (!spec.check_packages) return NewestBaseLayer(home, base_key);
  Status status = ResolveBasePackages(home, spec, packages);
  if (status.ok()) {
    *base_key = image::BaseLayerKey(*packages);
    return Status::Ok();
  }
  // Offline or apt broken: an image built earlier is better than none.
  if (!NewestBaseLayer(home, base_key).ok()) return status;
  Log(spec,
      "cannot check package versions (" + status.ToString() + "); using base layer " + *base_key);
  return Status::Ok();
}

Status ImageKey(ImageKeys* keys) {
  keys->image = image::Sha256Hex(std::string(kImageFormat) + " " + keys->base + " " + keys->tools)
                    .substr(0, 16);
  if (keys->image.empty() || keys->base.empty() || keys->tools.empty()) {
    return Status::FailedPrecondition("libcrypto cannot compute SHA-256 for the image's keys");
  }
  return Status::Ok();
}

bool ImageComplete(const fs::path& image_dir) {
  std::error_code error;
  return fs::exists(image_dir / image::kManifestFile, error);
}

// kVerifiedFile records, after a full check of an image's checksums, each file's identity
// (device, inode, size, modification and change times): while they stay the same the files are
// the ones checked, and a run checks sizes only. Truncating, editing or replacing a file changes
// its change time, which no user can set, so the next run checks every byte again.
constexpr char kVerifiedFile[] = "verified";

std::string FileIdentityLine(const std::string& name, const struct stat& st) {
  return name + " " + std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + " " +
         std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec) + "\n";
}

}  // namespace

namespace image {

Status VerifyCachedImage(const fs::path& image_dir) {
  Json manifest;
  Status status = ReadJsonObjectFile(image_dir / kManifestFile, &manifest);
  if (!status.ok()) return Status::FailedPrecondition("its manifest: " + status.message());
  const auto files = manifest.find("files");
  if (files == manifest.end() || !files->is_object() || files->empty()) {
    return Status::FailedPrecondition("its manifest lists no files");
  }
  for (const char* required : {kVmlinuxFile, kInitramfsFile}) {
    if (!files->contains(required)) {
      return Status::FailedPrecondition(std::string("its manifest has no checksum of ") + required);
    }
  }
  std::string identities;
  std::int64_t newest_change = 0;
  for (auto it = files->begin(); it != files->end(); ++it) {
    const std::string& name = it.key();
    status = CheckFileChecksumJson(it.value(), "manifest files." + name);
    if (!status.ok()) return Status::FailedPrecondition(status.message());
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return Status::FailedPrecondition("its manifest names a file outside the image: " + name);
    }
    struct stat st {};
    if (stat((image_dir / name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::FailedPrecondition(name + " is missing");
    }
    const auto size = it.value()["size"].get<std::uint64_t>();
    if (static_cast<std::uint64_t>(st.st_size) != size) {
      return Status::FailedPrecondition(name + " holds " + std::to_string(st.st_size) +
                                        " bytes, its manifest says " + std::to_string(size));
    }
    identities += FileIdentityLine(name, st);
    // A file changed within the last seconds may change again within the same tick of the
    // file system's clock, unseen by its times (git's "racily clean" index entries): such an
    // image is checked in full and not recorded.
    newest_change = std::max<std::int64_t>(newest_change, st.st_ctim.tv_sec);
  }
  std::string verified;
  if (ReadFileContents(image_dir / kVerifiedFile, &verified).ok() && verified == identities) {
    return Status::Ok();
  }
  for (auto it = files->begin(); it != files->end(); ++it) {
    std::string hex;
    std::uint64_t size = 0;
    NVLAB_RETURN_IF_ERROR(Sha256OfFile(image_dir / it.key(), &hex, &size));
    if (hex != it.value()["sha256"].get<std::string>()) {
      return Status::FailedPrecondition(it.key() + " does not match its SHA-256 in the manifest");
    }
  }
  // Best effort: a read-only cache is checked in full every time.
  if (newest_change + 2 < static_cast<std::int64_t>(std::time(nullptr))) {
    (void)WriteFileAtomically(image_dir / kVerifiedFile, identities);
  }
  return Status::Ok();
}

}  // namespace image

namespace {

Status AppendFile(const fs::path& from, std::ofstream* out) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + from.string());
  *out << in.rdbuf();
  if (!*out) return Status::IoError("cannot append " + from.string());
  return Status::Ok();
}

// WriteInitramfs writes the base cpio followed by the tools cpio.
Status WriteInitramfs(const fs::path& base_cpio, const fs::path& tools_cpio, const fs::path& to) {
  std::ofstream initramfs(to, std::ios::binary | std::ios::trunc);
  NVLAB_RETURN_IF_ERROR(AppendFile(base_cpio, &initramfs));
  NVLAB_RETURN_IF_ERROR(AppendFile(tools_cpio, &initramfs));
  initramfs.close();
  if (!initramfs) return Status::IoError("cannot write " + to.string());
  return Status::Ok();
}

// LinkKernel hard-links the base layer's kernel into the image (copies it across file systems,
// as in a home assembled by hand).
Status LinkKernel(const fs::path& base_dir, const fs::path& image_dir) {
  std::error_code error;
  fs::create_hard_link(base_dir / image::kVmlinuxFile, image_dir / image::kVmlinuxFile, error);
  if (!error) return Status::Ok();
  fs::copy_file(base_dir / image::kVmlinuxFile, image_dir / image::kVmlinuxFile, error);
  if (error) return Status::IoError("cannot copy the kernel: " + error.message());
  return Status::Ok();
}

// KernelChecksum is the kernel's {"sha256", "size"}: the base layer's record of it when there is
// one (the kernel is the base layer's, hard-linked), else computed.
Status KernelChecksum(const fs::path& base_dir, const fs::path& image_dir, image::Json* checksum) {
  const fs::path recorded = base_dir / image::kVmlinuxChecksumFile;
  Status status = image::ReadJsonObjectFile(recorded, checksum);
  if (status.code() == Status::Code::kNotFound) {
    return image::FileChecksumJson(image_dir / image::kVmlinuxFile, checksum);
  }
  if (status.ok()) status = image::CheckFileChecksumJson(*checksum, recorded.string());
  if (!status.ok()) {
    return status.WithContext("the base layer is damaged (delete " + base_dir.string() +
                              " to rebuild it)");
  }
  return Status::Ok();
}

// RecordTaskLayout adds kernel_task_layout, read from the kernel's BTF, to the manifest. It is
// optional: without it cut reports name no processes, nothing else.
Status RecordTaskLayout(const fs::path& kernel, const GuestImageSpec& spec, image::Json* manifest) {
  KernelTaskLayout layout;
  Status status = formats::FindKernelTaskLayout(kernel, &layout);
  if (status.code() == Status::Code::kIoError) return status;
  if (!status.ok()) {
    Log(spec, "no kernel task layout recorded: " + status.ToString());
    return Status::Ok();
  }
  image::Json layout_json = image::LayoutJson(layout);
  Log(spec, "kernel task layout " + layout_json.dump());
  (*manifest)[image::kLayoutKey] = std::move(layout_json);
  return Status::Ok();
}

image::Json ToolsJson(const std::vector<image::ToolFile>& tools) {
  image::Json list = image::Json::array();
  for (const auto& tool : tools) {
    list.push_back({{"path", "/" + tool.guest_path}, {"sha256", tool.sha256}, {"size", tool.size}});
  }
  return list;
}

// ImageManifest describes an assembled image: its keys, task layout, files and tools, and the
// base layer's own manifest.
Status ImageManifest(const fs::path& image_dir, const fs::path& base_dir, const ImageKeys& keys,
                     const std::vector<image::ToolFile>& tools, const GuestImageSpec& spec,
                     image::Json* manifest) {
  image::Json base;
  NVLAB_RETURN_IF_ERROR(image::ReadJsonObjectFile(base_dir / image::kBaseManifestFile, &base));
  image::Json files;
  NVLAB_RETURN_IF_ERROR(KernelChecksum(base_dir, image_dir, &files[image::kVmlinuxFile]));
  NVLAB_RETURN_IF_ERROR(
      image::FileChecksumJson(image_dir / image::kInitramfsFile, &files[image::kInitramfsFile]));
  NVLAB_RETURN_IF_ERROR(
      image::FileChecksumJson(image_dir / image::kToolsCpioFile, &files[image::kToolsCpioFile]));
  *manifest = image::Json{{"format", kImageFormat},
                          {"image", keys.image},
                          {"base_layer", keys.base},
                          {"tools_layer", keys.tools}};
  NVLAB_RETURN_IF_ERROR(RecordTaskLayout(image_dir / image::kVmlinuxFile, spec, manifest));
  (*manifest)["files"] = std::move(files);
  (*manifest)["tools"] = ToolsJson(tools);
  (*manifest)["base"] = std::move(base);
  return Status::Ok();
}

// AssembleImage fills image_dir from a base layer and the tools files.
Status AssembleImage(const fs::path& image_dir, const fs::path& base_dir, const ImageKeys& keys,
                     const std::vector<image::ToolFile>& tools, const GuestImageSpec& spec) {
  NVLAB_RETURN_IF_ERROR(image::WriteToolsCpio(tools, image_dir / image::kToolsCpioFile));
  NVLAB_RETURN_IF_ERROR(WriteInitramfs(base_dir / image::kBaseCpioFile,
                                       image_dir / image::kToolsCpioFile,
                                       image_dir / image::kInitramfsFile));
  NVLAB_RETURN_IF_ERROR(LinkKernel(base_dir, image_dir));
  image::Json manifest;
  NVLAB_RETURN_IF_ERROR(ImageManifest(image_dir, base_dir, keys, tools, spec, &manifest));
  return image::WriteJsonFile(image_dir / image::kManifestFile, manifest);
}

// BuildImage assembles images/<key> in a temporary folder and renames it into place.
Status BuildImage(const fs::path& home, const fs::path& base_dir, const ImageKeys& keys,
                  const std::vector<image::ToolFile>& tools, const GuestImageSpec& spec) {
  fs::path temp;
  NVLAB_RETURN_IF_ERROR(MakeTempDir(home, "image", &temp));
  Log(spec, "tools layer " + keys.tools + ": " + std::to_string(tools.size()) + " files");
  Status status = AssembleImage(temp, base_dir, keys, tools, spec);
  if (!status.ok()) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    return status;
  }
  return PublishDir(temp, home / "images" / keys.image);
}

// BuildBaseLayerInto builds the base layer in temporary folders and renames it to base_dir.
Status BuildBaseLayerInto(const fs::path& home, const fs::path& base_dir,
                          const std::string& base_key, const std::vector<DebianPackage>& packages,
                          const GuestImageSpec& spec) {
  auto start = std::chrono::steady_clock::now();
  Log(spec, "building base layer " + base_key);
  fs::path work;
  fs::path temp_base;
  NVLAB_RETURN_IF_ERROR(MakeTempDir(home, "work", &work));
  NVLAB_RETURN_IF_ERROR(MakeTempDir(home, "base", &temp_base));
  Status status =
      image::BuildBaseLayer(packages, home / "packages", work, temp_base, spec.log, spec.progress);
  std::error_code error;
  fs::remove_all(work, error);
  if (!status.ok()) {
    fs::remove_all(temp_base, error);
    return status.WithContext("building the guest image's base layer");
  }
  NVLAB_RETURN_IF_ERROR(PublishDir(temp_base, base_dir));
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
  Log(spec, "base layer " + base_key + " built in " +
                std::to_string(static_cast<int>(seconds.count())) + " s");
  return Status::Ok();
}

// PrepareCacheFolders empties tmp/ and makes the cache's folders. Whatever is in tmp/ belongs
// to a build that died: only lock holders write there.
Status PrepareCacheFolders(const fs::path& home) {
  std::error_code error;
  fs::remove_all(home / "tmp", error);
  for (const char* dir : {"tmp", "base", "images", "packages"}) {
    NVLAB_RETURN_IF_ERROR(MakeDirectories(home / dir));
  }
  return Status::Ok();
}

// PruneOldImages deletes all but the kKeptImages newest images and returns the base layers the
// kept ones use; *all_known turns false when a kept image's manifest cannot say which.
std::set<std::string> PruneOldImages(const fs::path& home, const GuestImageSpec& spec,
                                     bool* all_known) {
  std::error_code error;
  std::vector<std::pair<fs::file_time_type, fs::path>> images;
  for (const fs::directory_entry& entry : fs::directory_iterator(home / "images", error)) {
    std::error_code time_error;
    auto time = fs::last_write_time(entry.path() / image::kManifestFile, time_error);
    images.emplace_back(time_error ? fs::file_time_type{} : time, entry.path());
  }
  std::sort(images.begin(), images.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::set<std::string> used_bases;
  *all_known = true;
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (i >= kKeptImages) {
      // An image a running nvlab holds is kept (and so is its base layer) until a later prune.
      bool removed = false;
      const Status status = image::TryRemoveCacheFolder(images[i].second, &removed);
      if (removed) {
        Log(spec, "removed old image " + images[i].second.filename().string());
        continue;
      }
      Log(spec, "keeping old image " + images[i].second.filename().string() +
                    (status.ok() ? std::string(": in use by a running nvlab")
                                 : ": " + status.ToString()));
    }
    const fs::path manifest_path = images[i].second / image::kManifestFile;
    image::Json manifest;
    std::string base;
    Status status = image::ReadJsonObjectFile(manifest_path, &manifest);
    if (status.ok())
      status = image::StringField(manifest, "base_layer", manifest_path.string(), &base);
    if (!status.ok()) {
      Log(spec, "keeping every base layer: " + status.ToString());
      *all_known = false;
      continue;
    }
    used_bases.insert(base);
  }
  return used_bases;
}

// PruneUnusedBaseLayers deletes the base layers not in used.
void PruneUnusedBaseLayers(const fs::path& home, const std::set<std::string>& used,
                           const GuestImageSpec& spec) {
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(home / "base", error)) {
    if (used.count(entry.path().filename().string()) != 0) continue;
    Log(spec, "removing unused base layer " + entry.path().filename().string());
    fs::remove_all(entry.path(), error);
  }
}

// PruneOtherPackageVersions deletes the cached .deb files of packages not in the set.
void PruneOtherPackageVersions(const fs::path& home, const std::vector<DebianPackage>& packages) {
  std::set<std::string> wanted;
  for (const DebianPackage& package : packages) {
    wanted.insert(image::DebFilePrefix(package));
  }
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(home / "packages", error)) {
    std::string name = entry.path().filename().string();
    bool keep = std::any_of(wanted.begin(), wanted.end(), [&name](const std::string& prefix) {
      return name.rfind(prefix, 0) == 0;
    });
    if (!keep) fs::remove(entry.path(), error);
  }
}

// PruneOldLayers deletes all but the kKeptImages newest images, the base layers none of them
// uses (except keep_base), and, when packages is not empty, cached .deb files of other
// versions. Called under the lock, after a build; failures only cost disk space.
void PruneOldLayers(const fs::path& home, const std::string& keep_base,
                    const std::vector<DebianPackage>& packages, const GuestImageSpec& spec) {
  bool all_known = false;
  std::set<std::string> used_bases = PruneOldImages(home, spec, &all_known);
  used_bases.insert(keep_base);
  if (all_known) PruneUnusedBaseLayers(home, used_bases, spec);
  if (!packages.empty()) PruneOtherPackageVersions(home, packages);
}

// BuildMissingLayers builds, under the lock, whichever of the image's layers is missing.
Status BuildMissingLayers(const fs::path& home, const ImageKeys& keys,
                          const std::vector<image::ToolFile>& tools,
                          const std::vector<DebianPackage>& packages, const GuestImageSpec& spec) {
  FileLock lock;
  NVLAB_RETURN_IF_ERROR(lock.Acquire(home / "lock", FileLock::Mode::kExclusive, [&] {
    Log(spec, "waiting for another nvlab process building in " + home.string());
  }));
  const fs::path image_dir = home / "images" / keys.image;
  if (ImageComplete(image_dir)) {
    const Status verified = image::VerifyCachedImage(image_dir);
    if (verified.ok()) return Status::Ok();  // built (or rebuilt) while this process waited
    bool removed = false;
    NVLAB_RETURN_IF_ERROR(image::TryRemoveCacheFolder(image_dir, &removed));
    if (!removed) {
      return Status::FailedPrecondition("the cached image " + image_dir.string() + " is damaged (" +
                                        verified.message() +
                                        ") and a running nvlab uses it: run again once it ends");
    }
  }
  NVLAB_RETURN_IF_ERROR(PrepareCacheFolders(home));
  const fs::path base_dir = home / "base" / keys.base;
  std::error_code error;
  if (!fs::exists(base_dir / image::kBaseManifestFile, error)) {
    NVLAB_RETURN_IF_ERROR(BuildBaseLayerInto(home, base_dir, keys.base, packages, spec));
  }
  NVLAB_RETURN_IF_ERROR(BuildImage(home, base_dir, keys, tools, spec));
  Log(spec, "image " + keys.image + " ready in " + image_dir.string());
  PruneOldLayers(home, keys.base, packages, spec);
  return Status::Ok();
}

// FillImage names a complete image's files and reads its kernel release and task layout.
Status FillImage(const fs::path& image_dir, const fs::path& base_dir, GuestImage* out) {
  out->dir = image_dir;
  out->kernel = image_dir / image::kVmlinuxFile;
  out->initrd = image_dir / image::kInitramfsFile;
  out->manifest = image_dir / image::kManifestFile;
  std::string release;
  NVLAB_RETURN_IF_ERROR(ReadFileContents(base_dir / image::kKernelReleaseFile, &release));
  while (!release.empty() && (release.back() == '\n' || release.back() == ' ')) {
    release.pop_back();
  }
  out->kernel_release = release;
  image::Json manifest;
  NVLAB_RETURN_IF_ERROR(image::ReadJsonObjectFile(out->manifest, &manifest));
  Status status = image::ReadKernelTaskLayout(manifest, &out->kernel_task_layout);
  if (!status.ok()) return status.WithContext(out->manifest.string());
  return Status::Ok();
}

}  // namespace

fs::path TmpNvlabHome() {
  const char* tmp = std::getenv("TMPDIR");
  const fs::path root = tmp != nullptr && *tmp == '/' ? fs::path(tmp) : fs::path("/tmp");
  return root / ("nvlab-" + std::to_string(getuid()));
}

fs::path DefaultNvlabHome() {
  const char* home = std::getenv("NVLAB_HOME");
  if (home != nullptr && *home != '\0') return home;
  const char* cache = std::getenv("XDG_CACHE_HOME");
  if (cache != nullptr && *cache != '\0') return fs::path(cache) / "nvlab";
  const char* user_home = std::getenv("HOME");
  if (user_home != nullptr && *user_home != '\0') return fs::path(user_home) / ".cache/nvlab";
  return TmpNvlabHome();
}

Status PrepareNvlabHome(const fs::path& home) {
  if (home != TmpNvlabHome()) return MakeDirectories(home);
  // A folder every user can create: made private, and one made by someone else is refused
  // (its owner could swap the images nvlab boots).
  if (mkdir(home.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoErrorFromErrno("cannot create " + home.string(), errno);
  }
  struct stat st {};
  if (lstat(home.c_str(), &st) != 0) return Status::IoErrorFromErrno(home.string(), errno);
  const std::string refused =
      "refusing NVLAB_HOME " + home.string() + " (the fallback when HOME is unset): ";
  if (!S_ISDIR(st.st_mode)) {
    return Status::FailedPrecondition(refused + "it is not a folder (set NVLAB_HOME)");
  }
  if (st.st_uid != geteuid()) {
    return Status::FailedPrecondition(refused + "it belongs to uid " + std::to_string(st.st_uid) +
                                      ", not to this user (set NVLAB_HOME)");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::FailedPrecondition(refused +
                                      "others may write to it (chmod 700 it, or set "
                                      "NVLAB_HOME)");
  }
  return Status::Ok();
}

Status EnsureGuestImage(const GuestImageSpec& spec, GuestImage* out) {
  // The progress line's wait ends whichever way this returns.
  struct ProgressDone {
    ProgressLine* line;
    ~ProgressDone() {
      if (line != nullptr) line->Done();
    }
  } progress_done{spec.progress};
  if (spec.progress != nullptr) spec.progress->Set("guest image: checking the cache");
  fs::path home = spec.home.empty() ? DefaultNvlabHome() : spec.home;
  if (spec.guest_data_dir.empty()) {
    return Status::InvalidArgument("guest image: no guest data folder (share/nvlab/guest)");
  }
  NVLAB_RETURN_IF_ERROR(PrepareNvlabHome(home));
  ImageKeys keys;
  std::vector<image::ToolFile> tools;
  NVLAB_RETURN_IF_ERROR(
      image::ScanToolsLayer(spec.guest_data_dir, spec.guest_tools_dir, &tools, &keys.tools));
  std::vector<DebianPackage> packages;
  NVLAB_RETURN_IF_ERROR(ChooseBaseLayer(home, spec, &packages, &keys.base));
  NVLAB_RETURN_IF_ERROR(ImageKey(&keys));
  const fs::path image_dir = home / "images" / keys.image;
  // The image is held (a shared lock) before it is checked, and from then on for as long as the
  // caller keeps the GuestImage: no prune removes it under a running guest.
  std::shared_ptr<FileLock> hold;
  for (int attempt = 0;; ++attempt) {
    Status held = ImageComplete(image_dir) ? image::HoldCacheFolder(image_dir, &hold)
                                           : Status::NotFound("not built");
    if (held.ok()) {
      const Status verified = image::VerifyCachedImage(image_dir);
      if (verified.ok()) {
        Log(spec, "image " + keys.image + " is up to date");
        break;
      }
      hold.reset();
      if (attempt > 0) {
        // Rebuilt and still wrong: the kernel is the base layer's, hard-linked.
        return Status::FailedPrecondition("the image rebuilt in " + image_dir.string() +
                                          " is damaged too (" + verified.message() + "): delete " +
                                          (home / "base" / keys.base).string() +
                                          " to rebuild its base layer");
      }
      const std::string line = "nvlab: the cached image " + image_dir.string() + " is damaged (" +
                               verified.message() + "): rebuilding it";
      if (spec.notices != nullptr) {
        *spec.notices << line << std::endl;
      } else {
        Log(spec, line);
      }
    } else if (held.code() != Status::Code::kNotFound) {
      return held;
    }
    // Two rounds are enough unless another process keeps removing what this one builds.
    if (attempt == 2) {
      return Status::IoError("the image " + image_dir.string() +
                             " vanished as soon as it was built");
    }
    NVLAB_RETURN_IF_ERROR(BuildMissingLayers(home, keys, tools, packages, spec));
  }
  NVLAB_RETURN_IF_ERROR(FillImage(image_dir, home / "base" / keys.base, out));
  out->hold = std::move(hold);
  return Status::Ok();
}

}  // namespace nvlab
