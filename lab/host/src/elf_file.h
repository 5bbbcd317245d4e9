// File: elf_file.h (internal to nvlab_host)
//
// ParseElf reads the few facts the image builder needs from an x86-64 ELF file: the program
// interpreter (the dynamic loader), the shared libraries it needs (DT_NEEDED), and for a kernel
// the PVH entry point (the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY), without which QEMU cannot
// boot a vmlinux with -kernel. Bounds are checked everywhere: any input is safe.
//
// Thread-safety: pure function.

#ifndef NVLAB_HOST_ELF_FILE_H_
#define NVLAB_HOST_ELF_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::guest_image_internal {

// kXenElfNotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h): the note
// of owner "Xen" whose descriptor is the 32-bit physical PVH entry address.
inline constexpr std::uint32_t kXenElfNotePhys32Entry = 18;

struct ElfFacts {
  std::uint16_t type = 0;           // ET_EXEC (2), ET_DYN (3), ...
  std::string interpreter;          // PT_INTERP, e.g. "/lib64/ld-linux-x86-64.so.2"; empty if none
  std::vector<std::string> needed;  // DT_NEEDED sonames, in file order
  std::optional<std::uint64_t> pvh_entry;  // from the Xen PHYS32_ENTRY note, if present
};

// ParseElf fills *facts from a 64-bit little-endian ELF image. Not an ELF64 file, or offsets
// outside the file: InvalidArgument.
Status ParseElf(std::string_view bytes, ElfFacts* facts);

}  // namespace nvlab::guest_image_internal

#endif  // NVLAB_HOST_ELF_FILE_H_
