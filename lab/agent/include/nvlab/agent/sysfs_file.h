// File: nvlab/agent/sysfs_file.h
//
// Reading and writing the small text files of sysfs (and of /run), the way the guest agent talks
// to the kernel's drivers. A sysfs write is one write(2) of the whole value: the kernel parses
// each write as one request, and its error (EINVAL, EBUSY, ...) is the answer.
//
// Thread-safety: the functions keep no state.

#ifndef NVLAB_AGENT_SYSFS_FILE_H_
#define NVLAB_AGENT_SYSFS_FILE_H_

#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::agent {

// ReadSysfsFile reads up to 64 KiB of path into *text, without its trailing newlines.
Status ReadSysfsFile(const std::string& path, std::string* text);

// WriteSysfsFile writes value to path in one write(2) (no newline added).
Status WriteSysfsFile(const std::string& path, std::string_view value);

// ListDirectory returns the names in dir (not "." or ".."), sorted; empty when dir is missing.
std::vector<std::string> ListDirectory(const std::string& dir);

// PathExists says whether path names anything (a file, folder or link to something).
bool PathExists(const std::string& path);

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_SYSFS_FILE_H_
