// File: nvlab/formats/elf_file.h
//
// ParseElf reads the few facts the image builder needs from an x86-64 ELF file: the program
// interpreter (the dynamic loader), the shared libraries it needs (DT_NEEDED), and for a kernel
// the PVH entry point (the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY), without which QEMU cannot
// boot a vmlinux with -kernel. FindElfSection locates one section by name (the kernel's .BTF
// and .data..percpu, see kernel_btf.h). Bounds are checked everywhere: any input is safe.
//
// Thread-safety: pure function.

#ifndef NVLAB_FORMATS_ELF_FILE_H_
#define NVLAB_FORMATS_ELF_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::formats {

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

// CheckElf64LittleEndian accepts a file that starts with a 64-bit little-endian ELF header:
// "not an ELF file" or "not a 64-bit little-endian ELF file" (InvalidArgument) otherwise.
Status CheckElf64LittleEndian(std::string_view bytes);

// ElfSection is where one section is linked and stored.
struct ElfSection {
  std::uint32_t name_offset = 0;  // sh_name: in the section name table
  std::uint32_t type = 0;         // SHT_PROGBITS (1), SHT_NOBITS (8), ...
  std::uint64_t address = 0;      // sh_addr: its link address (0 for sections not loaded)
  std::uint64_t offset = 0;       // sh_offset: where its bytes are in the file
  std::uint64_t size = 0;         // sh_size
  std::uint32_t link = 0;         // sh_link: e.g. a symbol table's string table
  std::uint64_t entry_size = 0;   // sh_entsize: e.g. 24 for a symbol table
};

// ReadElfSections reads every section header of an image that passed CheckElf64LittleEndian
// (none when it has none). Headers smaller than 64 bytes or outside the file: InvalidArgument.
// The sections' own offsets and sizes are not checked: callers check what they read.
Status ReadElfSections(std::string_view bytes, std::vector<ElfSection>* sections);

// kElfSectionNoBits is SHT_NOBITS: a section with no bytes in the file (.bss).
inline constexpr std::uint32_t kElfSectionNoBits = 8;

// FindElfSection finds the first section named name (through the section name table,
// e_shstrndx) in a 64-bit little-endian ELF image. Unless its type is SHT_NOBITS, its bytes are
// checked to lie within the file: bytes.substr(section->offset, section->size) is safe. Not an
// ELF64 file, or headers, names or the section outside the file: InvalidArgument. No section of
// that name: NotFound.
Status FindElfSection(std::string_view bytes, std::string_view name, ElfSection* section);

}  // namespace nvlab::formats

#endif  // NVLAB_FORMATS_ELF_FILE_H_
