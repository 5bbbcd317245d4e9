// guest_image.cc -- EnsureGuestImage: cache keys, the lock, atomic renames; DefaultNvlabHome;
// the manifest's kernel task layout (KernelTaskLayoutJson, ReadManifestKernelTaskLayout).

#include "nvlab/guest_image.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nvlab/file_contents.h"
#include "nvlab/formats/kernel_btf.h"
#include "nvlab/image/debian_packages.h"
#include "nvlab/image/guest_image_layers.h"
#include "nvlab/image/json_text.h"
#include "nvlab/image/sha256_digest.h"

namespace nvlab {
namespace image {
namespace {

constexpr char kLayoutKey[] = "kernel_task_layout";

template <typename T>
bool ParseUnsigned(const std::string& text, int base, T* value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, *value, base);
  return error == std::errc() && stop == end;
}

}  // namespace

std::string KernelTaskLayoutJson(const KernelTaskLayout& layout) {
  char current_task[24];
  (void)std::snprintf(current_task, sizeof(current_task), "0x%llx",
                      static_cast<unsigned long long>(layout.current_task_percpu_offset));
  return std::string("{\"current_task\": ") + JsonQuote(current_task) +
         ", \"comm\": " + std::to_string(layout.task_comm_offset) +
         ", \"pid\": " + std::to_string(layout.task_pid_offset) +
         ", \"tgid\": " + std::to_string(layout.task_tgid_offset) + "}";
}

Status ReadManifestKernelTaskLayout(std::string_view manifest,
                                    std::optional<KernelTaskLayout>* layout) {
  layout->reset();
  // Manifests from before the field (and any text without it) have no layout to read.
  if (manifest.find(std::string("\"") + kLayoutKey + "\"") == std::string_view::npos) {
    return Status::Ok();
  }
  const auto doc = nlohmann::json::parse(manifest, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* fields = nullptr;
  if (!doc.is_discarded() && doc.is_object()) {
    if (auto it = doc.find(kLayoutKey); it != doc.end() && it->is_object()) fields = &*it;
  }
  // An unsigned JSON number that fits *out.
  auto offset = [fields](const char* name, std::uint32_t* out) {
    auto it = fields->find(name);
    if (it == fields->end() || !it->is_number_unsigned() ||
        it->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
      return false;
    }
    *out = static_cast<std::uint32_t>(it->get<std::uint64_t>());
    return true;
  };
  KernelTaskLayout read;
  bool ok = fields != nullptr && fields->size() == 4;
  if (ok) {
    auto current = fields->find("current_task");
    const std::string text =
        current != fields->end() && current->is_string() ? current->get<std::string>() : "";
    ok = text.rfind("0x", 0) == 0 &&
         ParseUnsigned(text.substr(2), 16, &read.current_task_percpu_offset) &&
         offset("comm", &read.task_comm_offset) && offset("pid", &read.task_pid_offset) &&
         offset("tgid", &read.task_tgid_offset);
  }
  if (!ok) {
    return Status::InvalidArgument(
        "image manifest: malformed kernel_task_layout (expected {\"current_task\": \"0x...\", "
        "\"comm\": N, \"pid\": N, \"tgid\": N})");
  }
  *layout = read;
  return Status::Ok();
}

}  // namespace image

namespace {

namespace fs = std::filesystem;
using image::DebianPackage;

// kImageFormat is part of every image's key; bump it when what an image holds changes, so that
// images cached by an older nvlab are rebuilt (cheaply: the base layer stays).
// 2: the manifest records the kernel task layout.
constexpr char kImageFormat[] = "nvlab-image-2";
// kKeptImages: images kept after a build (the newest by build time). Each tools change makes
// a new image (some 20 MB); keeping several lets build trees with different guest tools take
// turns without rebuilding, and an image returned to one process is not deleted under it
// unless that many builds happen before its QEMU starts.
constexpr std::size_t kKeptImages = 8;

void Log(const GuestImageSpec& spec, const std::string& line) {
  if (spec.log != nullptr) *spec.log << "nvlab image: " << line << std::endl;
}

// ImageLock holds flock(2) on <home>/lock for its lifetime (released by close, also when the
// process dies, so a killed build never blocks the next one).
class ImageLock {
 public:
  ImageLock() = default;
  ImageLock(const ImageLock&) = delete;
  ImageLock& operator=(const ImageLock&) = delete;
  ~ImageLock() {
    if (fd_ >= 0) close(fd_);
  }

  Status Acquire(const fs::path& path, const GuestImageSpec& spec) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IoErrorFromErrno("cannot open " + path.string(), errno);
    if (flock(fd_, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
    Log(spec, "waiting for another nvlab process building in " + path.parent_path().string());
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) return Status::IoErrorFromErrno("flock " + path.string(), errno);
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

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

// PublishDir renames a completed folder into place. Losing a race to an identical folder is
// fine: folders are named by their content's key.
Status PublishDir(const fs::path& temp, const fs::path& final_dir) {
  if (std::rename(temp.c_str(), final_dir.c_str()) == 0) return Status::Ok();
  int err = errno;
  std::error_code ignored;
  if ((err == ENOTEMPTY || err == EEXIST) && fs::exists(final_dir, ignored)) {
    fs::remove_all(temp, ignored);
    return Status::Ok();
  }
  return Status::IoErrorFromErrno("cannot rename " + temp.string() + " to " + final_dir.string(),
                                  err);
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

std::string ToolsJson(const std::vector<image::ToolFile>& tools) {
  std::string json;
  for (const auto& tool : tools) {
    if (!json.empty()) json += ",\n";
    json += "    {\"path\": " + image::JsonQuote("/" + tool.guest_path) +
            ", \"sha256\": " + image::JsonQuote(tool.sha256) +
            ", \"size\": " + std::to_string(tool.size) + "}";
  }
  return json;
}

std::string FileJson(const fs::path& path) {
  std::string hex;
  std::uint64_t size = 0;
  if (!image::Sha256OfFile(path, &hex, &size).ok()) return "null";
  return "{\"sha256\": " + image::JsonQuote(hex) + ", \"size\": " + std::to_string(size) + "}";
}

Status AppendFile(const fs::path& from, std::ofstream* out) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + from.string());
  *out << in.rdbuf();
  if (!*out) return Status::IoError("cannot append " + from.string());
  return Status::Ok();
}

// BuildImage assembles images/<key> from a base layer and the tools files.
Status BuildImage(const fs::path& home, const fs::path& base_dir, const std::string& image_key,
                  const std::string& base_key, const std::string& tools_key,
                  const std::vector<image::ToolFile>& tools, const GuestImageSpec& spec) {
  fs::path temp;
  NVLAB_RETURN_IF_ERROR(MakeTempDir(home, "image", &temp));
  Log(spec, "tools layer " + tools_key + ": " + std::to_string(tools.size()) + " files");
  Status status = [&]() -> Status {
    NVLAB_RETURN_IF_ERROR(image::WriteToolsCpio(tools, temp / image::kToolsCpioFile));
    {
      std::ofstream initramfs(temp / image::kInitramfsFile, std::ios::binary | std::ios::trunc);
      NVLAB_RETURN_IF_ERROR(AppendFile(base_dir / image::kBaseCpioFile, &initramfs));
      NVLAB_RETURN_IF_ERROR(AppendFile(temp / image::kToolsCpioFile, &initramfs));
      initramfs.close();
      if (!initramfs) return Status::IoError("cannot write the initramfs");
    }
    std::error_code error;
    fs::create_hard_link(base_dir / image::kVmlinuxFile, temp / image::kVmlinuxFile, error);
    if (error) {
      // Another file system (a home assembled by hand): copy instead.
      fs::copy_file(base_dir / image::kVmlinuxFile, temp / image::kVmlinuxFile, error);
      if (error) return Status::IoError("cannot copy the kernel: " + error.message());
    }
    std::string base_json;
    NVLAB_RETURN_IF_ERROR(ReadFileContents(base_dir / image::kBaseManifestFile, &base_json));
    while (!base_json.empty() && base_json.back() == '\n') base_json.pop_back();
    // The kernel is the base layer's (hard-linked): reuse its checksum when recorded.
    std::string vmlinux_json;
    if (ReadFileContents(base_dir / image::kVmlinuxChecksumFile, &vmlinux_json).ok()) {
      while (!vmlinux_json.empty() && vmlinux_json.back() == '\n') vmlinux_json.pop_back();
    } else {
      vmlinux_json = FileJson(temp / image::kVmlinuxFile);
    }
    // The task layout is optional: without it cut reports name no processes, nothing else.
    std::string layout_json;
    KernelTaskLayout layout;
    Status layout_status = formats::FindKernelTaskLayout(temp / image::kVmlinuxFile, &layout);
    if (layout_status.code() == Status::Code::kIoError) return layout_status;
    if (layout_status.ok()) {
      layout_json = image::KernelTaskLayoutJson(layout);
      Log(spec, "kernel task layout " + layout_json);
      layout_json = ",\n\"kernel_task_layout\": " + layout_json;
    } else {
      Log(spec, "no kernel task layout recorded: " + layout_status.ToString());
    }
    std::string json = "{\n\"format\": " + image::JsonQuote(kImageFormat) +
                       ",\n\"image\": " + image::JsonQuote(image_key) +
                       ",\n\"base_layer\": " + image::JsonQuote(base_key) +
                       ",\n\"tools_layer\": " + image::JsonQuote(tools_key) + layout_json +
                       ",\n\"files\": {\n  \"vmlinux\": " + vmlinux_json +
                       ",\n  \"initramfs.cpio\": " + FileJson(temp / image::kInitramfsFile) +
                       ",\n  \"tools.cpio\": " + FileJson(temp / image::kToolsCpioFile) +
                       "\n},\n\"tools\": [\n" + ToolsJson(tools) + "\n],\n\"base\": " + base_json +
                       "\n}\n";
    return WriteFileContents(temp / image::kManifestFile, json);
  }();
  if (!status.ok()) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    return status;
  }
  return PublishDir(temp, home / "images" / image_key);
}

// ManifestField returns the string value of "field" in a manifest written by BuildImage.
std::string ManifestField(const std::string& manifest, const std::string& field) {
  std::string key = "\"" + field + "\": \"";
  std::size_t start = manifest.find(key);
  if (start == std::string::npos) return {};
  start += key.size();
  std::size_t end = manifest.find('"', start);
  return end == std::string::npos ? std::string() : manifest.substr(start, end - start);
}

// PruneOldLayers deletes all but the kKeptImages newest images, the base layers none of them
// uses (except keep_base), and, when packages is not empty, cached .deb files of other
// versions. Called under the lock, after a build; failures only cost disk space.
void PruneOldLayers(const fs::path& home, const std::string& keep_base,
                    const std::vector<DebianPackage>& packages, const GuestImageSpec& spec) {
  std::error_code error;
  std::vector<std::pair<fs::file_time_type, fs::path>> images;
  for (const fs::directory_entry& entry : fs::directory_iterator(home / "images", error)) {
    std::error_code time_error;
    auto time = fs::last_write_time(entry.path() / image::kManifestFile, time_error);
    images.emplace_back(time_error ? fs::file_time_type{} : time, entry.path());
  }
  std::sort(images.begin(), images.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::set<std::string> used_bases = {keep_base};
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (i >= kKeptImages) {
      Log(spec, "removing old image " + images[i].second.filename().string());
      fs::remove_all(images[i].second, error);
      continue;
    }
    std::string manifest;
    if (ReadFileContents(images[i].second / image::kManifestFile, &manifest).ok()) {
      used_bases.insert(ManifestField(manifest, "base_layer"));
    }
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(home / "base", error)) {
    if (used_bases.count(entry.path().filename().string()) != 0) continue;
    Log(spec, "removing unused base layer " + entry.path().filename().string());
    fs::remove_all(entry.path(), error);
  }
  if (packages.empty()) return;
  std::set<std::string> wanted;
  for (const DebianPackage& package : packages) {
    wanted.insert(image::DebFilePrefix(package));
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(home / "packages", error)) {
    std::string name = entry.path().filename().string();
    bool keep = std::any_of(wanted.begin(), wanted.end(), [&name](const std::string& prefix) {
      return name.rfind(prefix, 0) == 0;
    });
    if (!keep) fs::remove(entry.path(), error);
  }
}

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
  std::string manifest;
  NVLAB_RETURN_IF_ERROR(ReadFileContents(out->manifest, &manifest));
  Status status = image::ReadManifestKernelTaskLayout(manifest, &out->kernel_task_layout);
  if (!status.ok()) return status.WithContext(out->manifest.string());
  return Status::Ok();
}

}  // namespace

fs::path DefaultNvlabHome() {
  const char* home = std::getenv("NVLAB_HOME");
  if (home != nullptr && *home != '\0') return home;
  const char* cache = std::getenv("XDG_CACHE_HOME");
  if (cache != nullptr && *cache != '\0') return fs::path(cache) / "nvlab";
  const char* user_home = std::getenv("HOME");
  if (user_home != nullptr && *user_home != '\0') return fs::path(user_home) / ".cache/nvlab";
  return fs::path("/tmp") / ("nvlab-" + std::to_string(getuid()));
}

Status EnsureGuestImage(const GuestImageSpec& spec, GuestImage* out) {
  fs::path home = spec.home.empty() ? DefaultNvlabHome() : spec.home;
  if (spec.guest_data_dir.empty()) {
    return Status::InvalidArgument("guest image: no guest data folder (share/nvlab/guest)");
  }
  NVLAB_RETURN_IF_ERROR(MakeDirectories(home));

  std::vector<image::ToolFile> tools;
  std::string tools_key;
  NVLAB_RETURN_IF_ERROR(image::ScanToolsLayer(spec.guest_data_dir / "init", spec.guest_tools_dir,
                                              &tools, &tools_key));
  std::vector<DebianPackage> packages;
  std::string base_key;
  if (spec.check_packages) {
    Status status = ResolveBasePackages(home, spec, &packages);
    if (!status.ok()) {
      // Offline or apt broken: an image built earlier is better than none.
      if (!NewestBaseLayer(home, &base_key).ok()) return status;
      Log(spec, "cannot check package versions (" + status.ToString() + "); using base layer " +
                    base_key);
    } else {
      base_key = image::BaseLayerKey(packages);
    }
  } else {
    NVLAB_RETURN_IF_ERROR(NewestBaseLayer(home, &base_key));
  }
  std::string image_key =
      image::Sha256Hex(std::string(kImageFormat) + " " + base_key + " " + tools_key).substr(0, 16);
  fs::path base_dir = home / "base" / base_key;
  fs::path image_dir = home / "images" / image_key;
  std::error_code error;
  if (fs::exists(image_dir / image::kManifestFile, error)) {
    Log(spec, "image " + image_key + " is up to date");
    return FillImage(image_dir, base_dir, out);
  }

  ImageLock lock;
  NVLAB_RETURN_IF_ERROR(lock.Acquire(home / "lock", spec));
  // Another process may have built it while this one waited.
  if (!fs::exists(image_dir / image::kManifestFile, error)) {
    // Whatever is in tmp/ belongs to a build that died: only lock holders write there.
    fs::remove_all(home / "tmp", error);
    NVLAB_RETURN_IF_ERROR(MakeDirectories(home / "tmp"));
    NVLAB_RETURN_IF_ERROR(MakeDirectories(home / "base"));
    NVLAB_RETURN_IF_ERROR(MakeDirectories(home / "images"));
    NVLAB_RETURN_IF_ERROR(MakeDirectories(home / "packages"));
    if (!fs::exists(base_dir / image::kBaseManifestFile, error)) {
      auto start = std::chrono::steady_clock::now();
      Log(spec, "building base layer " + base_key);
      fs::path work;
      fs::path temp_base;
      NVLAB_RETURN_IF_ERROR(MakeTempDir(home, "work", &work));
      NVLAB_RETURN_IF_ERROR(MakeTempDir(home, "base", &temp_base));
      Status status = image::BuildBaseLayer(packages, home / "packages", work, temp_base, spec.log);
      fs::remove_all(work, error);
      if (!status.ok()) {
        fs::remove_all(temp_base, error);
        return status.WithContext("building the guest image's base layer");
      }
      NVLAB_RETURN_IF_ERROR(PublishDir(temp_base, base_dir));
      auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
      Log(spec, "base layer " + base_key + " built in " +
                    std::to_string(static_cast<int>(seconds.count())) + " s");
    }
    NVLAB_RETURN_IF_ERROR(BuildImage(home, base_dir, image_key, base_key, tools_key, tools, spec));
    Log(spec, "image " + image_key + " ready in " + image_dir.string());
    PruneOldLayers(home, base_key, packages, spec);
  }
  return FillImage(image_dir, base_dir, out);
}

}  // namespace nvlab
