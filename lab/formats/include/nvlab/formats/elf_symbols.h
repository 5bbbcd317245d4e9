// File: nvlab/formats/elf_symbols.h
//
// ElfSymbolTable reads the function and object symbols of an ELF64 x86-64 file (SHT_SYMTAB,
// else SHT_DYNSYM; STT_FUNC and STT_OBJECT with a size, defined in a section) and answers
// "which symbol holds this address": the cut report's user PCs become "name+0xoff". Addresses
// are the file's own (st_value): they are run-time addresses only for ET_EXEC files; for ET_DYN
// (PIE executables, shared objects) the caller must know the load base (UserSymbolizer does not,
// and names nothing there). Bounds and overflow are checked everywhere: any input is safe.
//
// Thread-safety: immutable once parsed.

#ifndef NVLAB_FORMATS_ELF_SYMBOLS_H_
#define NVLAB_FORMATS_ELF_SYMBOLS_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::formats {

// ElfSymbol is one sized symbol: [address, address + size). name holds printable ASCII only
// (EscapeUntrusted) and at most kMaxSymbolNameBytes of the original name.
struct ElfSymbol {
  uint64_t address = 0;
  uint64_t size = 0;
  std::string name;
};

inline constexpr size_t kMaxSymbolNameBytes = 256;
// kMaxElfFileBytes bounds what ElfSymbolTable::Load reads.
inline constexpr uint64_t kMaxElfFileBytes = uint64_t{256} << 20;

inline constexpr uint16_t kElfTypeExec = 2;  // ET_EXEC
inline constexpr uint16_t kElfTypeDyn = 3;   // ET_DYN

class ElfSymbolTable {
 public:
  // Parse reads an ELF64 little-endian x86-64 image. Not such an ELF file, headers, sections or
  // names outside the file, a symbol table without its string table: InvalidArgument saying
  // what. No symbol table at all (a stripped file) is OK: an empty table.
  static Status Parse(std::string_view bytes, ElfSymbolTable* out);
  // Load reads a regular file of at most kMaxElfFileBytes and parses it; errors name the file.
  static Status Load(const std::filesystem::path& file, ElfSymbolTable* out);
  // IsElfFile says whether file is a regular file that starts with the ELF magic.
  static bool IsElfFile(const std::filesystem::path& file);

  uint16_t type() const { return type_; }
  uint64_t entry() const { return entry_; }
  // symbols, sorted by address; of symbols at the same address, one (global before weak before
  // local, then functions before objects, then by name).
  const std::vector<ElfSymbol>& symbols() const { return symbols_; }

  // Find returns the symbol containing address: of overlapping ones, the one starting closest
  // below it.
  const ElfSymbol* Find(uint64_t address) const;
  // FindByName returns the first symbol of that (escaped) name, for tests and tools.
  const ElfSymbol* FindByName(std::string_view name) const;
  // Symbolize returns "name+0xoff" for an ET_EXEC file's address, nothing otherwise (no symbol
  // contains it, or the file is not ET_EXEC).
  std::optional<std::string> Symbolize(uint64_t address) const;

 private:
  uint16_t type_ = 0;
  uint64_t entry_ = 0;
  std::vector<ElfSymbol> symbols_;
  std::vector<uint64_t> reach_;  // reach_[i]: the highest end of symbols_[0..i]
};

}  // namespace nvlab::formats

#endif  // NVLAB_FORMATS_ELF_SYMBOLS_H_
