// elf_symbols_fuzzer.cc -- libFuzzer target over the host's ELF symbol-table reader
// (nvlab/formats/elf_symbols.h), which reads guest programs found in a user's --share folder.
// Checks, besides ASan/UBSan: a table that parses answers Find and Symbolize for any address,
// and a found symbol contains the address.
//
// Run: build/fuzz/fuzz/lab/elf_symbols_fuzzer -max_total_time=30 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "nvlab/formats/elf_symbols.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nvlab::formats::ElfSymbol;
  using nvlab::formats::ElfSymbolTable;
  ElfSymbolTable table;
  if (!ElfSymbolTable::Parse(std::string_view(reinterpret_cast<const char*>(data), size), &table)
           .ok()) {
    return 0;
  }
  for (const ElfSymbol& symbol : table.symbols()) {
    if (symbol.address + symbol.size < symbol.address) continue;  // Wraps: no middle to probe.
    for (uint64_t address : {symbol.address, symbol.address + symbol.size / 2}) {
      const ElfSymbol* found = table.Find(address);
      if (found == nullptr || address < found->address ||
          (found->size != 0 && address - found->address >= found->size)) {
        (void)std::fprintf(stderr, "Find(0x%llx) does not contain it\n",
                           static_cast<unsigned long long>(address));
        std::abort();
      }
      (void)table.Symbolize(address);
    }
  }
  (void)table.Find(0);
  (void)table.Symbolize(~uint64_t{0});
  return 0;
}
