// boot_timing.cc -- /run/nvlab/timing lines.

#include "nvlab/agent/boot_timing.h"

#include <fcntl.h>
#include <unistd.h>

#include "nvlab/agent/sysfs_file.h"

namespace nvlab::agent {

std::string GuestUptime() {
  std::string text;
  if (!ReadSysfsFile("/proc/uptime", &text).ok()) return "";
  return text.substr(0, text.find(' '));
}

void RecordBootPhase(const char* key) {
  const std::string line = std::string(key) + "=" + GuestUptime() + "\n";
  const int fd = open(kBootTimingFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)write(fd, line.data(), line.size());
  close(fd);
}

}  // namespace nvlab::agent
