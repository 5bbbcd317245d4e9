// guest_image_base_layer.cc -- the base layer: kernel, modules, busybox, ndctl, mkfs programs.
//
// Guest layout (merged /usr, as Debian's): /bin, /sbin -> usr/bin; /usr/sbin -> bin; /lib ->
// usr/lib; /lib64 -> usr/lib64. Programs and busybox's applet links live in /usr/bin, shared
// libraries in /usr/lib/x86_64-linux-gnu (a default search folder of Debian's dynamic loader,
// so no ld.so.cache is needed), modules in /usr/lib/modules/<release>.

#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "manifest_json.h"
#include "nvlab/file_contents.h"
#include "nvlab/formats/elf_file.h"
#include "nvlab/guest_image.h"
#include "nvlab/host_command.h"
#include "nvlab/image/guest_image_layers.h"
#include "nvlab/image/guest_image_tree.h"
#include "nvlab/image/kernel_extraction.h"
#include "nvlab/image/sha256_digest.h"

namespace nvlab::image {
namespace {

namespace fs = std::filesystem;

// Bump when the recipe below changes, so that cached base layers are rebuilt.
constexpr char kBaseLayerFormat[] = "nvlab-base-layer-3";  // 3: vmlinux without zero tails
constexpr char kGuestLibraryDir[] = "usr/lib/x86_64-linux-gnu";
constexpr int kMaxSymlinkHops = 40;

// A program of the base layer: where its package puts it and its names in the guest.
struct BaseProgram {
  const char* name;                      // file name in the package (bin/, sbin/, usr/...)
  std::vector<const char*> guest_names;  // links in /usr/bin (the first is the file itself)
};

const std::vector<BaseProgram>& BasePrograms() {
  static const std::vector<BaseProgram> programs = {
      {"busybox", {"busybox"}},
      {"ndctl", {"ndctl"}},
      {"mke2fs", {"mke2fs", "mkfs.ext4", "mkfs.ext2"}},
      {"mkfs.xfs", {"mkfs.xfs"}},
  };
  return programs;
}

// Files the guest needs besides programs (optional: copied when the package has them).
const std::vector<const char*>& BaseConfigFiles() {
  static const std::vector<const char*> files = {"etc/mke2fs.conf"};
  return files;
}

void Log(std::ostream* log, const std::string& line) {
  if (log != nullptr) *log << "nvlab image: " << line << std::endl;
}

// ResolveInRoot follows symlinks of a path inside an unpacked package root (absolute targets
// are relative to the root, not to the host's /). Returns an empty path when missing.
fs::path ResolveInRoot(const fs::path& root, const std::string& guest_path) {
  fs::path current = root / fs::path(guest_path).relative_path();
  for (int hop = 0; hop < kMaxSymlinkHops; ++hop) {
    std::error_code error;
    fs::file_status status = fs::symlink_status(current, error);
    if (error || !fs::exists(status)) return {};
    if (!fs::is_symlink(status)) return current;
    fs::path target = fs::read_symlink(current, error);
    if (error) return {};
    current = target.is_absolute() ? root / target.relative_path() : current.parent_path() / target;
  }
  return {};
}

fs::path FindProgram(const fs::path& root, const std::string& name) {
  for (const char* dir : {"usr/bin/", "bin/", "usr/sbin/", "sbin/"}) {
    fs::path found = ResolveInRoot(root, std::string(dir) + name);
    if (!found.empty()) return found;
  }
  return {};
}

fs::path FindLibrary(const fs::path& root, const std::string& soname) {
  for (const char* dir : {"lib/x86_64-linux-gnu/", "usr/lib/x86_64-linux-gnu/", "lib64/",
                          "usr/lib64/", "lib/", "usr/lib/"}) {
    fs::path found = ResolveInRoot(root, std::string(dir) + soname);
    if (!found.empty()) return found;
  }
  return {};
}

// GuestPathFor maps a path a binary names (its PT_INTERP) onto the merged-/usr layout.
std::string GuestPathFor(const std::string& absolute) {
  std::string path = fs::path(absolute).relative_path().generic_string();
  for (const char* top : {"lib64/", "lib/"}) {
    if (path.rfind(top, 0) == 0) return "usr/" + path;
  }
  return path;
}

// AddSharedLibraries adds the dynamic loader and every library binary needs (transitively).
Status AddSharedLibraries(const fs::path& root, const fs::path& binary, GuestImageTree* tree,
                          std::set<std::string>* libraries) {
  std::vector<fs::path> pending = {binary};
  while (!pending.empty()) {
    fs::path file = pending.back();
    pending.pop_back();
    std::string bytes;
    NVLAB_RETURN_IF_ERROR(ReadFileContents(file, &bytes));
    formats::ElfFacts facts;
    Status status = formats::ParseElf(bytes, &facts);
    if (!status.ok()) return status.WithContext(file.string());
    if (!facts.interpreter.empty()) {
      // The loader lives with the libraries (libc names it in DT_NEEDED too); the path
      // programs name (/lib64/ld-linux-x86-64.so.2) is a link to it, as on Debian.
      std::string loader_name = fs::path(facts.interpreter).filename().string();
      std::string library_path = std::string(kGuestLibraryDir) + "/" + loader_name;
      if (libraries->insert(loader_name).second) {
        fs::path loader = ResolveInRoot(root, facts.interpreter);
        if (loader.empty()) {
          return Status::NotFound("dynamic loader " + facts.interpreter + " of " +
                                  file.filename().string() + " is in no package of the image");
        }
        tree->AddHostFile(library_path, loader, 0755);
      }
      std::string guest_path = GuestPathFor(facts.interpreter);
      if (guest_path != library_path && !tree->Contains(guest_path)) {
        tree->AddSymlink(guest_path, "/" + library_path);
      }
    }
    for (const std::string& soname : facts.needed) {
      if (!libraries->insert(soname).second) continue;
      fs::path library = FindLibrary(root, soname);
      if (library.empty()) {
        return Status::NotFound("library " + soname + " needed by " + file.filename().string() +
                                " is in no package of the image");
      }
      tree->AddHostFile(std::string(kGuestLibraryDir) + "/" + soname, library, 0644);
      pending.push_back(library);
    }
  }
  return Status::Ok();
}

// StageModules copies the needed modules (decompressed: busybox modprobe loads only plain .ko)
// into staging/lib/modules/<release> and runs depmod there.
Status StageModules(const fs::path& root, const std::string& release, const fs::path& staging,
                    std::vector<std::string>* names, std::ostream* log) {
  fs::path source = root / "lib/modules" / release;
  std::string ignored;
  // The package ships no modules.dep (depmod runs at install time): make one to resolve from.
  NVLAB_RETURN_IF_ERROR(RunHostCommand({"depmod", "-b", root.string(), release}, {}, &ignored));
  std::string modules_dep;
  std::string modules_builtin;
  NVLAB_RETURN_IF_ERROR(ReadFileContents(source / "modules.dep", &modules_dep));
  NVLAB_RETURN_IF_ERROR(ReadFileContents(source / "modules.builtin", &modules_builtin));
  ModuleIndex index;
  NVLAB_RETURN_IF_ERROR(index.Parse(modules_dep, modules_builtin));
  std::vector<std::string> paths;
  std::vector<std::string> builtin;
  NVLAB_RETURN_IF_ERROR(index.Resolve(BaseLayerModules(), &paths, &builtin));
  fs::path target = staging / "lib/modules" / release;
  std::error_code error;
  for (const std::string& path : paths) {
    fs::path from = source / path;
    std::string plain = path;
    std::vector<std::string> decompressor;
    for (const auto& [suffix, command] :
         std::vector<std::pair<std::string, std::vector<std::string>>>{
             {".xz", {"xz", "-dc"}}, {".zst", {"zstd", "-dc"}}, {".gz", {"gzip", "-dc"}}}) {
      if (plain.size() > suffix.size() &&
          plain.compare(plain.size() - suffix.size(), suffix.size(), suffix) == 0) {
        plain.resize(plain.size() - suffix.size());
        decompressor = command;
      }
    }
    fs::path to = target / plain;
    fs::create_directories(to.parent_path(), error);
    if (error) return Status::IoError("cannot create " + to.parent_path().string());
    if (decompressor.empty()) {
      fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
      if (error) return Status::IoError("cannot copy " + from.string() + ": " + error.message());
    } else {
      HostCommandOptions options;
      options.stdin_path = from;
      options.stdout_path = to;
      NVLAB_RETURN_IF_ERROR(RunHostCommand(decompressor, options, nullptr));
    }
    names->push_back(ModuleName(path));
  }
  for (const char* file : {"modules.order", "modules.builtin", "modules.builtin.modinfo"}) {
    if (fs::exists(source / file, error)) {
      fs::copy_file(source / file, target / file, fs::copy_options::overwrite_existing, error);
      if (error) return Status::IoError("cannot copy " + std::string(file));
    }
  }
  NVLAB_RETURN_IF_ERROR(RunHostCommand({"depmod", "-b", staging.string(), release}, {}, &ignored));
  Log(log, "modules: " + std::to_string(paths.size()) + " files (" +
               std::to_string(builtin.size()) + " of the wanted ones are built in)");
  return Status::Ok();
}

void AddStagedTree(const fs::path& staging, const std::string& guest_prefix, GuestImageTree* tree) {
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(staging, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    std::string guest_path =
        guest_prefix + "/" + fs::relative(it->path(), staging).generic_string();
    if (it->is_directory(error)) {
      tree->AddDirectory(guest_path, 0755);
    } else if (it->is_regular_file(error)) {
      tree->AddHostFile(guest_path, it->path(), 0644);
    }
  }
}

// BaseLayerContents is what a base layer's build put in it, for its manifest.
struct BaseLayerContents {
  std::string kernel_release;
  std::vector<std::string> programs;  // names in /usr/bin
  std::set<std::string> libraries;    // sonames (and the dynamic loader's name)
  std::vector<std::string> modules;
};

// UnpackPackages downloads (or reuses) and unpacks every package into root, and finds the
// kernel's release from its package name.
Status UnpackPackages(const std::vector<DebianPackage>& packages, const fs::path& packages_dir,
                      const fs::path& work_dir, const fs::path& root, std::string* kernel_release,
                      std::ostream* log, ProgressLine* progress) {
  std::error_code error;
  fs::create_directories(root, error);
  if (error) return Status::IoError("cannot create " + root.string());
  size_t n = 0;
  for (const DebianPackage& package : packages) {
    fs::path deb;
    Log(log, "package " + package.name + " " + package.version);
    if (progress != nullptr) {
      progress->Set("guest image: package " + std::to_string(++n) + "/" +
                    std::to_string(packages.size()) + " " + package.name);
    }
    NVLAB_RETURN_IF_ERROR(FetchPackage(package, packages_dir, work_dir, &deb));
    NVLAB_RETURN_IF_ERROR(UnpackPackage(deb, root));
    if (package.name.rfind(kKernelPackagePrefix, 0) == 0) {
      *kernel_release = package.name.substr(std::string(kKernelPackagePrefix).size());
    }
  }
  if (kernel_release->empty()) return Status::NotFound("no kernel package in the package set");
  return Status::Ok();
}

// CheckKernelHz checks the kernel's tick rate against the one the launcher's timer parameters
// assumes (kGuestKernelHz): a kernel with another would get a wrong lpj=.
Status CheckKernelHz(const fs::path& root, const std::string& release) {
  std::string config;
  NVLAB_RETURN_IF_ERROR(ReadFileContents(root / "boot" / ("config-" + release), &config));
  const std::string want = "\nCONFIG_HZ=" + std::to_string(kGuestKernelHz) + "\n";
  if (("\n" + config).find(want) == std::string::npos) {
    return Status::FailedPrecondition(
        "kernel " + release + " is not built with CONFIG_HZ=" + std::to_string(kGuestKernelHz) +
        " (nvlab's kGuestKernelHz, nvlab/guest_image.h)");
  }
  return Status::Ok();
}

// AddSkeleton adds the folders, merged-/usr links and files every guest needs.
void AddSkeleton(GuestImageTree* tree) {
  for (const char* dir : {"dev", "proc", "sys", "run", "mnt", "host", "etc", "usr", "usr/bin",
                          "usr/lib", "usr/lib64", kGuestLibraryDir}) {
    tree->AddDirectory(dir, 0755);
  }
  tree->AddDirectory("tmp", 01777);
  tree->AddDirectory("root", 0700);
  tree->AddSymlink("bin", "usr/bin");
  tree->AddSymlink("sbin", "usr/bin");
  tree->AddSymlink("usr/sbin", "bin");
  tree->AddSymlink("lib", "usr/lib");
  tree->AddSymlink("lib64", "usr/lib64");
  // The kernel opens /dev/console for init before anything can mount devtmpfs.
  tree->AddCharDevice("dev/console", 0600, 5, 1);
  tree->AddFileContents("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
  tree->AddFileContents("etc/group", "root:x:0:\n", 0644);
}

// AddPrograms adds the base programs, their other names and the shared libraries they need.
Status AddPrograms(const fs::path& root, GuestImageTree* tree, BaseLayerContents* contents) {
  for (const BaseProgram& program : BasePrograms()) {
    fs::path binary = FindProgram(root, program.name);
    if (binary.empty()) {
      return Status::NotFound(std::string("program ") + program.name +
                              " is in no package of the image");
    }
    std::string guest_path = std::string("usr/bin/") + program.guest_names.front();
    tree->AddHostFile(guest_path, binary, 0755);
    for (std::size_t i = 1; i < program.guest_names.size(); ++i) {
      tree->AddSymlink(std::string("usr/bin/") + program.guest_names[i],
                       program.guest_names.front());
    }
    NVLAB_RETURN_IF_ERROR(AddSharedLibraries(root, binary, tree, &contents->libraries));
    contents->programs.emplace_back(program.guest_names.front());
  }
  return Status::Ok();
}

// AddConfigFiles adds the configuration files the packages have.
void AddConfigFiles(const fs::path& root, GuestImageTree* tree) {
  for (const char* file : BaseConfigFiles()) {
    fs::path found = ResolveInRoot(root, file);
    if (!found.empty()) tree->AddHostFile(file, found, 0644);
  }
}

// AddBusyboxApplets links every name busybox implements to it, unless a real program has it.
Status AddBusyboxApplets(const fs::path& root, GuestImageTree* tree, std::size_t libraries,
                         std::ostream* log) {
  std::string applets;
  NVLAB_RETURN_IF_ERROR(
      RunHostCommand({FindProgram(root, "busybox").string(), "--list"}, {}, &applets));
  std::istringstream applet_lines(applets);
  std::string applet;
  int applet_count = 0;
  while (std::getline(applet_lines, applet)) {
    if (applet.empty() || applet.find('/') != std::string::npos) continue;
    std::string guest_path = "usr/bin/" + applet;
    if (tree->Contains(guest_path)) continue;
    tree->AddSymlink(guest_path, "busybox");
    ++applet_count;
  }
  Log(log, "busybox: " + std::to_string(applet_count) + " applet links; " +
               std::to_string(libraries) + " shared libraries");
  return Status::Ok();
}

// AddModules stages the kernel modules the guest needs (under work_dir) and adds them.
Status AddModules(const fs::path& root, const fs::path& work_dir, GuestImageTree* tree,
                  BaseLayerContents* contents, std::ostream* log) {
  fs::path module_staging = work_dir / "modules";
  NVLAB_RETURN_IF_ERROR(
      StageModules(root, contents->kernel_release, module_staging, &contents->modules, log));
  tree->AddDirectory("usr/lib/modules", 0755);
  AddStagedTree(module_staging / "lib/modules", "usr/lib/modules", tree);
  return Status::Ok();
}

Json PackagesJson(const std::vector<DebianPackage>& packages) {
  Json list = Json::array();
  for (const DebianPackage& package : packages) {
    list.push_back(
        {{"name", package.name}, {"version", package.version}, {"sha256", package.sha256}});
  }
  return list;
}

// WriteBaseManifest writes base.json, kernel_release and vmlinux.json (the kernel's checksum,
// reused by every image over this layer).
Status WriteBaseManifest(const std::vector<DebianPackage>& packages,
                         const BaseLayerContents& contents, const fs::path& out_dir) {
  Json vmlinux;
  Json cpio;
  NVLAB_RETURN_IF_ERROR(FileChecksumJson(out_dir / kVmlinuxFile, &vmlinux));
  NVLAB_RETURN_IF_ERROR(FileChecksumJson(out_dir / kBaseCpioFile, &cpio));
  Json manifest = {{"format", kBaseLayerFormat},
                   {"kernel_release", contents.kernel_release},
                   {"packages", PackagesJson(packages)},
                   {"programs", contents.programs},
                   {"libraries", contents.libraries},
                   {"modules", contents.modules},
                   {"files", {{kVmlinuxFile, vmlinux}, {kBaseCpioFile, cpio}}}};
  NVLAB_RETURN_IF_ERROR(WriteJsonFile(out_dir / kBaseManifestFile, manifest));
  NVLAB_RETURN_IF_ERROR(
      WriteFileContents(out_dir / kKernelReleaseFile, contents.kernel_release + "\n"));
  return WriteJsonFile(out_dir / kVmlinuxChecksumFile, vmlinux);
}

}  // namespace

std::vector<std::string> BaseLayerRootPackages() {
  return {"busybox-static", "ndctl", "e2fsprogs", "xfsprogs"};
}

std::vector<ModuleRequest> BaseLayerModules() {
  return {
      {"nfit", false},         {"libnvdimm", false},
      {"nd_pmem", false},      {"nd_btt", false},
      {"nd_e820", true},       {"dax_pmem", false},
      {"dax_pmem_core", true}, {"dax_pmem_compat", true},
      {"device_dax", false},   {"ext4", false},
      {"jbd2", false},         {"mbcache", false},
      {"crc16", false},        {"crc32c_generic", false},
      {"libcrc32c", false},    {"xfs", false},
      {"virtio_pci", false},   {"virtio_console", false},
      {"9pnet_virtio", false}, {"9p", false},
  };
}

std::string BaseLayerKey(const std::vector<DebianPackage>& packages) {
  Sha256Digest digest;
  digest.Update(kBaseLayerFormat);
  for (const DebianPackage& package : packages) {
    digest.Update("\n" + package.name + " " + package.version + " " + package.sha256);
  }
  return digest.HexDigest().substr(0, 16);
}

Status BuildBaseLayer(const std::vector<DebianPackage>& packages, const fs::path& packages_dir,
                      const fs::path& work_dir, const fs::path& out_dir, std::ostream* log,
                      ProgressLine* progress) {
  const fs::path root = work_dir / "root";
  BaseLayerContents contents;
  NVLAB_RETURN_IF_ERROR(UnpackPackages(packages, packages_dir, work_dir, root,
                                       &contents.kernel_release, log, progress));
  NVLAB_RETURN_IF_ERROR(CheckKernelHz(root, contents.kernel_release));
  if (progress != nullptr) progress->Set("guest image: the kernel and its modules");
  Log(log, "kernel " + contents.kernel_release + ": extracting the uncompressed vmlinux");
  NVLAB_RETURN_IF_ERROR(ExtractVmlinux(root / "boot" / ("vmlinuz-" + contents.kernel_release),
                                       out_dir / kVmlinuxFile, work_dir));
  GuestImageTree tree;
  AddSkeleton(&tree);
  NVLAB_RETURN_IF_ERROR(AddPrograms(root, &tree, &contents));
  AddConfigFiles(root, &tree);
  NVLAB_RETURN_IF_ERROR(AddBusyboxApplets(root, &tree, contents.libraries.size(), log));
  NVLAB_RETURN_IF_ERROR(AddModules(root, work_dir, &tree, &contents, log));
  NVLAB_RETURN_IF_ERROR(tree.WriteCpio(out_dir / kBaseCpioFile, 1));
  return WriteBaseManifest(packages, contents, out_dir);
}

}  // namespace nvlab::image
