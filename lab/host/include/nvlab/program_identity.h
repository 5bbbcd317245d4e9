// File: nvlab/program_identity.h
//
// Which file a program is, well enough to notice that it was replaced or changed: what caches
// keyed by a host program (the guest template by QEMU, QEMU's version) compare.
//
// Thread-safety: reads PATH and stat(2)s files; no state.

#ifndef NVLAB_PROGRAM_IDENTITY_H_
#define NVLAB_PROGRAM_IDENTITY_H_

#include <filesystem>
#include <string>

#include "nvlab/status.h"

namespace nvlab {

// ResolveProgram finds a program named without a folder in PATH (as execvp would); a name with
// a folder, or one PATH does not have, is returned as it is.
std::filesystem::path ResolveProgram(const std::string& program);

// FileIdentity describes path as "PATH size=N mtime=S.NS[ inode=I]"; NotFound when missing.
Status FileIdentity(const std::filesystem::path& path, bool with_inode, std::string* identity);

}  // namespace nvlab

#endif  // NVLAB_PROGRAM_IDENTITY_H_
