// nvdimm_setup.cc -- the guest's NVDIMM setup, step by step (docs/design/nvdimm-setup.md).

#include "nvlab/agent/nvdimm_setup.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "nvlab/agent/boot_timing.h"
#include "nvlab/agent/device_wait.h"
#include "nvlab/agent/file_system_signature.h"
#include "nvlab/agent/guest_program.h"
#include "nvlab/agent/sysfs_file.h"

namespace nvlab::agent {
namespace {

// Say prints one progress line on the console.
void Say(const std::string& step) {
  (void)std::printf("nvlab-init: %s\n", step.c_str());
  (void)std::fflush(stdout);
}

// Failed prints the error line and returns the status.
Status Failed(const Status& status) {
  (void)std::printf("nvlab-init: error: %s\n", status.message().c_str());
  (void)std::fflush(stdout);
  return status;
}

Status NewUuid(std::string* uuid) {
  unsigned char bytes[16];
  if (getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) {
    return Status::IoErrorFromErrno("getrandom", errno);
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4: random
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  *uuid = FormatUuid(bytes);
  return Status::Ok();
}

Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::IoErrorFromErrno("mkdir " + path, errno);
  }
  return Status::Ok();
}

// ExistingFileSystem reads which file system `device` holds ("" for none).
Status ExistingFileSystem(const std::string& device, std::string* fs) {
  const int fd = open(device.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoErrorFromErrno("open " + device, errno);
  std::string bytes(kFileSystemSignatureBytes, '\0');
  const ssize_t n = pread(fd, bytes.data(), bytes.size(), 0);
  const int read_errno = errno;
  close(fd);
  if (n < 0) return Status::IoErrorFromErrno("read " + device, read_errno);
  bytes.resize(static_cast<size_t>(n));
  *fs = FileSystemSignature(bytes);
  return Status::Ok();
}

Status MakeFileSystem(const std::string& fs, const std::string& device) {
  if (fs == "xfs") {
    // xfsprogs refuses new file systems under 300 MB unless the variables of its test suite
    // (fstests) are all set; lab NVDIMMs are often smaller. DAX needs reflink off.
    return RunGuestProgram({"mkfs.xfs", "-q", "-f", "-m", "reflink=0", device},
                           {"TEST_DIR=/tmp", "TEST_DEV=" + device, "QA_CHECK_FS=1"});
  }
  return RunGuestProgram({"mkfs.ext4", "-q", "-F", "-b", "4096", device});
}

// SetUpFsdax mounts the file system on `device` (making one when there is none) at
// /mnt/pmem<region> and returns the mount point.
Status SetUpFsdax(const NvdimmSettings& settings, const std::string& ns, int region,
                  const std::string& device, std::string* path) {
  std::string existing;
  NVLAB_RETURN_IF_ERROR(ExistingFileSystem(device, &existing));
  if (existing.empty()) {
    Say(ns + ": making a " + settings.fs + " file system on " + device);
    RecordBootPhase("mkfs");
    NVLAB_RETURN_IF_ERROR(MakeFileSystem(settings.fs, device));
    existing = settings.fs;
  } else if (existing != settings.fs) {
    Say(ns + ": keeping the existing " + existing + " file system (nvlab.fs=" + settings.fs +
        " not applied)");
  }
  NVLAB_RETURN_IF_ERROR(MakeDirectory("/mnt"));
  *path = "/mnt/pmem" + std::to_string(region);
  NVLAB_RETURN_IF_ERROR(MakeDirectory(*path));
  if (mount(device.c_str(), path->c_str(), existing.c_str(), 0, "dax") != 0) {
    return Status::IoErrorFromErrno("mount -t " + existing + " -o dax " + device + " " + *path,
                                    errno);
  }
  Say(ns + ": " + existing + " mounted with -o dax at " + *path);
  return Status::Ok();
}

// LoadModules loads those of `modules` that are not loaded yet, with one modprobe: a warm start
// finds most of them loaded before the template was saved, and a modprobe that has nothing to
// do still costs a busybox exec and a read of the module index under TCG.
Status LoadModules(const std::vector<std::string>& modules) {
  std::vector<std::string> modprobe = {"modprobe", "-a"};
  std::string names;
  for (const std::string& name : modules) {
    // /sys/module/<name>: a loaded module (or a built-in one with parameters), '-' spelt '_'.
    std::string sysfs_name = name;
    std::replace(sysfs_name.begin(), sysfs_name.end(), '-', '_');
    if (PathExists("/sys/module/" + sysfs_name)) continue;
    modprobe.push_back(name);
    names += (names.empty() ? "" : " ") + name;
  }
  if (names.empty()) return Status::Ok();
  Say("loading modules: " + names);
  return RunGuestProgram(modprobe);
}

std::string NamespaceOf(int region) {
  return "namespace" + std::to_string(region) + ".0";
}

Status WaitForNamespace(const NdBus& bus, int region) {
  const std::string ns = NamespaceOf(region);
  return WaitFor([&] { return bus.Exists(ns); }, "region" + std::to_string(region) + "'s " + ns);
}

// ClaimBlankRegions gives the namespace of each region the host found blank its fsdax or devdax
// claim, then loads nd_pmem (unless every region was a blank devdax one): it enables the other
// namespaces (finding their claims) and binds the pfn claims made here. *claimed lists the
// regions done here.
Status ClaimBlankRegions(const NdBus& bus, const NvdimmSettings& settings,
                         const std::vector<int>& regions, std::vector<int>* claimed) {
  std::vector<std::string> pfn_claims;
  for (const int region : regions) {
    uint64_t start = 0;
    NVLAB_RETURN_IF_ERROR(bus.RegionStart(region, &start));
    if (std::find(settings.blank.begin(), settings.blank.end(), start) == settings.blank.end()) {
      continue;
    }
    const std::string ns = NamespaceOf(region);
    NVLAB_RETURN_IF_ERROR(WaitForNamespace(bus, region));
    Say(ns + ": creating a " + std::string(ToString(settings.mode)) + " namespace (blank NVDIMM)");
    std::string uuid;
    NVLAB_RETURN_IF_ERROR(NewUuid(&uuid));
    std::string claim;
    NVLAB_RETURN_IF_ERROR(bus.ClaimBlank(region, ns, settings.mode, uuid, &claim).WithContext(ns));
    if (settings.mode == NamespaceMode::kFsdax) pfn_claims.push_back(claim);
    claimed->push_back(region);
  }
  // A devdax guest whose NVDIMMs were all blank has no use for nd_pmem, and loading it is the
  // largest step of a warm start's setup (translating the kernel's module loader afresh). A
  // guest program that makes another namespace with ndctl gets it loaded by ndctl (libkmod).
  if (settings.mode == NamespaceMode::kDevdax && claimed->size() == regions.size()) {
    return Status::Ok();
  }
  NVLAB_RETURN_IF_ERROR(LoadModules({"nd_pmem"}));
  NVLAB_RETURN_IF_ERROR(bus.WaitForProbes());
  for (const std::string& claim : pfn_claims) NVLAB_RETURN_IF_ERROR(bus.BindClaim(claim));
  return Status::Ok();
}

// SetUpRegion gives region's namespace the wanted mode (ClaimBlankRegions did when `claimed`)
// and returns the path commands use.
Status SetUpRegion(const NdBus& bus, const NvdimmSettings& settings, int region, bool claimed,
                   std::string* path) {
  const std::string ns = NamespaceOf(region);
  NVLAB_RETURN_IF_ERROR(WaitForNamespace(bus, region));
  NamespaceMode mode = NamespaceMode::kRaw;
  NVLAB_RETURN_IF_ERROR(bus.ReadMode(ns, &mode));
  if (claimed) {
    if (mode != settings.mode) {
      return Status::IoError(ns + " reads " + ToString(mode) + " after its " +
                             ToString(settings.mode) + " claim was made");
    }
  } else if (mode == settings.mode) {
    Say(ns + ": reusing the existing " + ToString(mode) + " namespace");
  } else {
    Say(ns + ": creating a " + std::string(ToString(settings.mode)) + " namespace (was " +
        ToString(mode) + ")");
    std::string uuid;
    NVLAB_RETURN_IF_ERROR(NewUuid(&uuid));
    NVLAB_RETURN_IF_ERROR(bus.Reconfigure(region, ns, settings.mode, uuid).WithContext(ns));
  }
  switch (settings.mode) {
    case NamespaceMode::kDevdax: {
      std::string dax;
      return WaitFor(
          [&] {
            const std::string holder = bus.Holder(ns);
            return !holder.empty() && !(dax = bus.DaxDevice(holder)).empty() &&
                   PathExists(*path = dax);
          },
          ns + "'s dax device");
    }
    case NamespaceMode::kFsdax: {
      std::string device;
      NVLAB_RETURN_IF_ERROR(WaitFor(
          [&] {
            const std::string holder = bus.Holder(ns);
            return !holder.empty() && !(device = bus.BlockDevice(holder)).empty() &&
                   PathExists(device);
          },
          ns + "'s block device"));
      return SetUpFsdax(settings, ns, region, device, path);
    }
    case NamespaceMode::kRaw:
    case NamespaceMode::kSector:
      break;
  }
  return WaitFor([&] { return !(*path = bus.BlockDevice(ns)).empty() && PathExists(*path); },
                 ns + "'s block device");
}

// The drivers that read nothing on an NVDIMM by being loaded. nfit, the ACPI NFIT driver,
// registers the NVDIMM bus, its DIMMs (reading their label areas, if they have one) and its
// regions, whose label-less namespaces it describes from the ACPI table alone; the pfn, dax and
// btt seeds have no namespace to read. nd_pmem is the driver that reads a namespace's info block
// (a claim), so it is not among them.
constexpr const char* kDriversThatReadNoNvdimm[] = {"libnvdimm", "nd_btt", "dax_pmem", "device_dax",
                                                    "ext4"};

Status WriteEnvironmentFile(const std::string& text) {
  const std::string temp = std::string(kNvdimmEnvironmentFile) + ".new";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoErrorFromErrno("create " + temp, errno);
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written || rename(temp.c_str(), kNvdimmEnvironmentFile) != 0) {
    return Status::IoErrorFromErrno(std::string("write ") + kNvdimmEnvironmentFile, errno);
  }
  return Status::Ok();
}

Status Prepare(const NvdimmSettings& settings) {
  NVLAB_RETURN_IF_ERROR(MakeDirectory("/run/nvlab"));
  RecordBootPhase("nvdimms");
  // Only what this boot needs: every module load costs time under TCG. With blank NVDIMMs to
  // claim, nd_pmem comes after their claims (ClaimBlankRegions).
  const bool claim_blank = !settings.blank.empty() && (settings.mode == NamespaceMode::kFsdax ||
                                                       settings.mode == NamespaceMode::kDevdax);
  std::vector<std::string> modules = {"nfit"};
  if (!claim_blank) modules.emplace_back("nd_pmem");
  if (settings.mode == NamespaceMode::kDevdax) {
    modules.insert(modules.end(), {"dax_pmem", "device_dax"});
  }
  if (settings.mode == NamespaceMode::kFsdax) modules.push_back(settings.fs);
  if (settings.share) modules.insert(modules.end(), {"9pnet_virtio", "9p"});
  NVLAB_RETURN_IF_ERROR(LoadModules(modules));

  RecordBootPhase("regions");
  Say("waiting for " + std::to_string(settings.nvdimms) + " NVDIMM region(s)");
  const NdBus bus;
  std::vector<int> regions;
  Status waited = WaitFor(
      [&] {
        // Probing a region may still be under way when it appears: wait_probe settles it.
        return bus.WaitForProbes().ok() &&
               static_cast<int>((regions = bus.PmemRegions()).size()) >= settings.nvdimms;
      },
      std::to_string(settings.nvdimms) + " NVDIMM region(s)", 10.0);
  if (!waited.ok()) {
    return Status::Timeout("found " + std::to_string(regions.size()) + " of " +
                           std::to_string(settings.nvdimms) + " NVDIMM region(s) after 10 s");
  }
  NVLAB_RETURN_IF_ERROR(bus.WaitForProbes());

  RecordBootPhase("namespaces");
  std::vector<int> claimed;
  if (claim_blank) NVLAB_RETURN_IF_ERROR(ClaimBlankRegions(bus, settings, regions, &claimed));
  std::vector<std::string> paths;
  for (const int region : regions) {
    std::string path;
    const bool was_claimed = std::find(claimed.begin(), claimed.end(), region) != claimed.end();
    NVLAB_RETURN_IF_ERROR(SetUpRegion(bus, settings, region, was_claimed, &path));
    paths.push_back(path);
  }

  if (settings.share) {
    NVLAB_RETURN_IF_ERROR(MakeDirectory("/host"));
    if (mount("nvlab_share", "/host", "9p", 0, "trans=virtio,version=9p2000.L,msize=512000") != 0) {
      return Status::IoErrorFromErrno("mount 9p nvlab_share at /host", errno);
    }
    Say("mounted the host share at /host");
  }
  NVLAB_RETURN_IF_ERROR(WriteEnvironmentFile(NvdimmEnvironment(paths)));
  Say("guest uptime " + GuestUptime() + " s");
  Say("ready NVLAB_PMEM=" + paths.front());
  RecordBootPhase("nvdimms_done");
  return Status::Ok();
}

}  // namespace

Status ParseNvdimmSettings(std::string_view ns, std::string_view fs, std::string_view nvdimms,
                           std::string_view share, NvdimmSettings* settings) {
  NvdimmSettings s;
  const auto mode = ParseNamespaceMode(ns);
  if (!mode || *mode == NamespaceMode::kSector || ns == "memory" || ns == "dax") {
    return Status::InvalidArgument("namespace mode " + std::string(ns) +
                                   ": expected devdax, fsdax or raw");
  }
  s.mode = *mode;
  if (fs != "ext4" && fs != "xfs") {
    return Status::InvalidArgument("file system " + std::string(fs) + ": expected ext4 or xfs");
  }
  s.fs = fs;
  s.nvdimms = -1;
  if (!nvdimms.empty() && nvdimms.size() <= 2 &&
      nvdimms.find_first_not_of("0123456789") == std::string_view::npos) {
    s.nvdimms = std::stoi(std::string(nvdimms));
  }
  if (s.nvdimms < 1 || s.nvdimms > 64) {
    return Status::InvalidArgument("NVDIMM count " + std::string(nvdimms) + ": expected 1 to 64");
  }
  if (share != "0" && share != "1") {
    return Status::InvalidArgument("share " + std::string(share) + ": expected 0 or 1");
  }
  s.share = share == "1";
  *settings = s;
  return Status::Ok();
}

std::string NvdimmEnvironment(const std::vector<std::string>& paths) {
  std::string text;
  std::string all;
  for (size_t i = 0; i < paths.size(); ++i) {
    text += "NVLAB_PMEM" + std::to_string(i) + "=" + paths[i] + "\n";
    all += (i > 0 ? " " : "") + paths[i];
  }
  text += "NVLAB_PMEM=" + (paths.empty() ? std::string() : paths.front()) + "\n";
  text += "NVLAB_PMEM_ALL=" + all + "\n";
  return text;
}

Status PreloadNvdimmDrivers(bool with_nfit) {
  std::vector<std::string> modprobe = {"modprobe", "-a"};
  modprobe.insert(modprobe.end(), std::begin(kDriversThatReadNoNvdimm),
                  std::end(kDriversThatReadNoNvdimm));
  if (with_nfit) modprobe.emplace_back("nfit");
  return RunGuestProgram(modprobe);
}

Status PrepareNvdimms(const NvdimmSettings& settings) {
  const Status s = Prepare(settings);
  return s.ok() ? s : Failed(s);
}

}  // namespace nvlab::agent
