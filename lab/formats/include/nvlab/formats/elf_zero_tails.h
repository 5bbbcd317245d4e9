// File: nvlab/formats/elf_zero_tails.h
//
// TrimElfZeroTails shortens the file part of an ELF image's loadable segments to end at their
// last non-zero byte. A PT_LOAD segment has a file size (p_filesz) and a memory size
// (p_memsz); a loader copies the first from the file and fills the rest with zeros, so a
// segment whose file bytes end in zeros loads the same memory with those zeros left out.
//
// Why: Debian's kernel links .bss, .brk and .init.scratch into its last segment as zeros in
// the file (23 of that segment's 27 MB). QEMU copies every file byte of the kernel into guest
// RAM at each cold boot (its ROM reset), faulting in the file's pages on the way; zeros it
// fills instead cost only the RAM side (BENCHMARKS.md, "Cold boot"). Nothing else changes: the
// file keeps its size, its sections and its bytes; only program header fields are rewritten.
//
// Bounds are checked everywhere: any input is safe.
//
// Thread-safety: pure function.

#ifndef NVLAB_FORMATS_ELF_ZERO_TAILS_H_
#define NVLAB_FORMATS_ELF_ZERO_TAILS_H_

#include <cstdint>
#include <string>

#include "nvlab/status.h"

namespace nvlab::formats {

// TrimElfZeroTails rewrites, in a 64-bit little-endian ELF image, the p_filesz of each PT_LOAD
// segment whose file bytes end in zeros, to end at its last non-zero byte (0 for a segment of
// zeros); p_memsz and every other byte stay. *trimmed_bytes (optional) receives the sum of the
// bytes left out. Not an ELF64 file, program headers or a segment outside the file, or a
// segment whose file size exceeds its memory size: InvalidArgument, and *elf is unchanged.
Status TrimElfZeroTails(std::string* elf, std::uint64_t* trimmed_bytes);

}  // namespace nvlab::formats

#endif  // NVLAB_FORMATS_ELF_ZERO_TAILS_H_
