// File: nvlab/agent/file_system_signature.h
//
// Which file system a block device holds, from its first bytes: what blkid would say for the
// two file systems nvlab makes, without blkid (the guest image has none). The NVDIMM setup
// makes a file system only where none is, so the boot after a power cut mounts the data the
// previous boot left.
//
// Thread-safety: pure function.

#ifndef NVLAB_AGENT_FILE_SYSTEM_SIGNATURE_H_
#define NVLAB_AGENT_FILE_SYSTEM_SIGNATURE_H_

#include <cstddef>
#include <string_view>

namespace nvlab::agent {

// How many of a device's first bytes FileSystemSignature needs.
inline constexpr std::size_t kFileSystemSignatureBytes = 2048;

// FileSystemSignature returns "xfs" (the superblock magic "XFSB" at 0), "ext4" (the ext2/3/4
// magic 0xEF53 at 1080, little-endian) or "" for anything else, including fewer bytes than
// either magic needs.
std::string_view FileSystemSignature(std::string_view first_bytes);

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_FILE_SYSTEM_SIGNATURE_H_
