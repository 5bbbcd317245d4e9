// elf_file_fuzzer.cc -- libFuzzer target over ParseElf and the section reader
// (nvlab/formats/elf_file.h), which read the programs and kernels the image builder takes from
// packages and the files of a user's --share folder.
// Checks, besides ASan/UBSan: ParseElf accepts only what CheckElf64LittleEndian accepts; a
// section FindElfSection returns (unless SHT_NOBITS) lies within the file; the needed list and
// the interpreter hold no NUL byte (they come from NUL-terminated strings); TrimElfZeroTails
// (nvlab/formats/elf_zero_tails.h) keeps the file's size, changes nothing when it fails, and
// finds nothing more to trim in its own output.
//
// Run: build/fuzz/fuzz/lab/elf_file_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/formats/elf_file.h"
#include "nvlab/formats/elf_zero_tails.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  (void)std::fprintf(stderr, "%s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace formats = nvlab::formats;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  formats::ElfFacts facts;
  if (formats::ParseElf(bytes, &facts).ok()) {
    if (!formats::CheckElf64LittleEndian(bytes).ok()) Fail("ParseElf took a non-ELF64 file");
    if (facts.interpreter.find('\0') != std::string::npos) Fail("NUL in the interpreter");
    for (const std::string& soname : facts.needed) {
      if (soname.find('\0') != std::string::npos) Fail("NUL in a needed soname");
    }
  }
  std::vector<formats::ElfSection> sections;
  if (formats::CheckElf64LittleEndian(bytes).ok()) {
    (void)formats::ReadElfSections(bytes, &sections);
  }
  for (const char* name : {".BTF", ".data..percpu", ".symtab", ""}) {
    formats::ElfSection section;
    if (!formats::FindElfSection(bytes, name, &section).ok()) continue;
    if (section.type != formats::kElfSectionNoBits &&
        (section.offset > size || section.size > size - section.offset)) {
      Fail("FindElfSection returned a section outside the file");
    }
  }
  std::string trimmed(bytes);
  std::uint64_t left_out = 0;
  if (formats::TrimElfZeroTails(&trimmed, &left_out).ok()) {
    if (trimmed.size() != size) Fail("TrimElfZeroTails changed the file's size");
    if (left_out > size) Fail("TrimElfZeroTails left out more than the file");
    std::uint64_t again = 0;
    if (!formats::TrimElfZeroTails(&trimmed, &again).ok() || again != 0) {
      Fail("TrimElfZeroTails is not idempotent");
    }
  } else if (trimmed != bytes) {
    Fail("TrimElfZeroTails changed a file it refused");
  }
  return 0;
}
