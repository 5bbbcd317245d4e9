// nvdimm_mounts.cc -- DetachNvdimms and AttachNvdimms.

#include "nvlab/agent/nvdimm_mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "nvlab/agent/sysfs_file.h"

namespace nvlab::agent {
namespace {

constexpr std::string_view kPmemDevicePrefix = "/dev/pmem";

// DropBlockCaches flushes and invalidates the buffer cache of every pmem block device.
Status DropBlockCaches() {
  DIR* dir = opendir("/sys/block");
  if (dir == nullptr) return Status::IoErrorFromErrno("open /sys/block", errno);
  std::vector<std::string> devices;
  while (const dirent* entry = readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.starts_with("pmem")) devices.push_back("/dev/" + std::string(name));
  }
  closedir(dir);
  for (const std::string& device : devices) {
    const int fd = open(device.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IoErrorFromErrno("open " + device, errno);
    const int result = ioctl(fd, BLKFLSBUF, 0);
    const int error = errno;
    close(fd);
    if (result != 0) return Status::IoErrorFromErrno("BLKFLSBUF " + device, error);
  }
  return Status::Ok();
}

}  // namespace

std::vector<NvdimmMount> ParseNvdimmMounts(std::string_view proc_mounts) {
  std::vector<NvdimmMount> mounts;
  while (!proc_mounts.empty()) {
    const size_t end = proc_mounts.find('\n');
    std::string_view line = proc_mounts.substr(0, end);
    proc_mounts = end == std::string_view::npos ? std::string_view() : proc_mounts.substr(end + 1);
    std::vector<std::string_view> fields;
    while (!line.empty() && fields.size() < 3) {
      const size_t space = line.find(' ');
      fields.push_back(line.substr(0, space));
      line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    }
    if (fields.size() < 3 || !fields[0].starts_with(kPmemDevicePrefix)) continue;
    if (fields[1].find('\\') != std::string_view::npos || fields[1].empty()) continue;
    mounts.push_back({std::string(fields[0]), std::string(fields[1]), std::string(fields[2])});
  }
  return mounts;
}

Status DetachNvdimms(std::vector<NvdimmMount>* detached) {
  std::string text;
  NVLAB_RETURN_IF_ERROR(ReadSysfsFile("/proc/mounts", &text));
  std::vector<NvdimmMount> mounts = ParseNvdimmMounts(text);
  // The last mounted first: a mount nested in another goes before it.
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (umount2(it->mount_point.c_str(), 0) != 0) {
      return Status::IoErrorFromErrno("umount " + it->mount_point, errno);
    }
    detached->insert(detached->begin(), *it);
  }
  return DropBlockCaches();
}

Status AttachNvdimms(std::vector<NvdimmMount>* mounts) {
  while (!mounts->empty()) {
    const NvdimmMount& m = mounts->front();
    if (mount(m.device.c_str(), m.mount_point.c_str(), m.type.c_str(), 0, "dax") != 0) {
      return Status::IoErrorFromErrno(
          "mount -t " + m.type + " -o dax " + m.device + " " + m.mount_point, errno);
    }
    mounts->erase(mounts->begin());
  }
  return Status::Ok();
}

}  // namespace nvlab::agent
