// file_system_signature.cc -- superblock magics of XFS and ext2/3/4.

#include "nvlab/agent/file_system_signature.h"

namespace nvlab::agent {

std::string_view FileSystemSignature(std::string_view first_bytes) {
  if (first_bytes.substr(0, 4) == "XFSB") return "xfs";
  // ext2/3/4: the superblock starts at 1024, s_magic at offset 56 in it.
  if (first_bytes.size() >= 1082 && static_cast<unsigned char>(first_bytes[1080]) == 0x53 &&
      static_cast<unsigned char>(first_bytes[1081]) == 0xef) {
    return "ext4";
  }
  return "";
}

}  // namespace nvlab::agent
