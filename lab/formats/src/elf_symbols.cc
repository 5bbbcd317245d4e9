// elf_symbols.cc -- ElfSymbolTable: the symbol table of an ELF64 x86-64 file, by address.

#include "nvlab/formats/elf_symbols.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "nvlab/formats/elf_file.h"
#include "nvlab/hex.h"
#include "nvlab/untrusted_text.h"

namespace nvlab::formats {
namespace {

constexpr uint16_t kEmX86_64 = 62;
constexpr uint32_t kShtSymtab = 2;
constexpr uint32_t kShtStrtab = 3;
constexpr uint32_t kShtDynsym = 11;
constexpr uint64_t kSymbolBytes = 24;
constexpr uint8_t kSttObject = 1;
constexpr uint8_t kSttFunc = 2;
constexpr uint8_t kStbLocal = 0;
constexpr uint8_t kStbGlobal = 1;
constexpr uint16_t kShnUndef = 0;

// Bytes reads little-endian integers at checked offsets (x86-64 hosts are little-endian).
class Bytes {
 public:
  explicit Bytes(std::string_view bytes) : bytes_(bytes) {}
  bool InRange(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  // Get reads a T at offset; the caller checked InRange(offset, sizeof(T)).
  template <typename T>
  T Get(uint64_t offset) const {
    T value{};
    std::memcpy(&value, bytes_.data() + offset, sizeof(T));
    return value;
  }
  std::string_view Slice(uint64_t offset, uint64_t length) const {
    return bytes_.substr(offset, length);
  }

 private:
  std::string_view bytes_;
};

using Section = ElfSection;

// Ranked is a symbol with the keys that choose one of several at the same address.
struct Ranked {
  ElfSymbol symbol;
  int binding_rank;  // global 0, weak 1, local 2
  int type_rank;     // function 0, object 1
};

Status ReadSymbols(const Bytes& bytes, const Section& symtab, const Section& strtab,
                   std::vector<ElfSymbol>* out) {
  if (symtab.entry_size != kSymbolBytes) {
    return Status::InvalidArgument("ELF symbol table entry size is " +
                                   std::to_string(symtab.entry_size) + ", not 24");
  }
  if (!bytes.InRange(symtab.offset, symtab.size)) {
    return Status::InvalidArgument("ELF symbol table outside the file");
  }
  if (strtab.type != kShtStrtab || !bytes.InRange(strtab.offset, strtab.size)) {
    return Status::InvalidArgument("ELF symbol string table missing or outside the file");
  }
  const std::string_view names = bytes.Slice(strtab.offset, strtab.size);
  std::vector<Ranked> ranked;
  for (uint64_t at = symtab.offset; symtab.offset + symtab.size - at >= kSymbolBytes;
       at += kSymbolBytes) {
    const auto name_offset = bytes.Get<uint32_t>(at);
    const auto info = bytes.Get<uint8_t>(at + 4);
    const auto section = bytes.Get<uint16_t>(at + 6);
    const auto value = bytes.Get<uint64_t>(at + 8);
    const auto size = bytes.Get<uint64_t>(at + 16);
    const uint8_t type = info & 0xf;
    const uint8_t binding = info >> 4;
    if ((type != kSttFunc && type != kSttObject) || section == kShnUndef || size == 0) continue;
    if (name_offset >= names.size()) {
      return Status::InvalidArgument("ELF symbol name outside its string table");
    }
    const std::string_view rest = names.substr(name_offset);
    const size_t end = rest.find('\0');
    if (end == std::string_view::npos) {
      return Status::InvalidArgument("ELF symbol name not terminated in its string table");
    }
    if (end == 0) continue;
    if (size > UINT64_MAX - value) continue;  // wraps around the address space: meaningless
    const std::string name =
        EscapeUntrusted(rest.substr(0, std::min<size_t>(end, kMaxSymbolNameBytes)));
    int binding_rank = 1;  // weak, or another binding
    if (binding == kStbGlobal) binding_rank = 0;
    if (binding == kStbLocal) binding_rank = 2;
    ranked.push_back({{value, size, name}, binding_rank, type == kSttFunc ? 0 : 1});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    return std::tie(a.symbol.address, a.binding_rank, a.type_rank, a.symbol.name) <
           std::tie(b.symbol.address, b.binding_rank, b.type_rank, b.symbol.name);
  });
  out->clear();
  for (Ranked& r : ranked) {
    if (!out->empty() && out->back().address == r.symbol.address) continue;
    out->push_back(std::move(r.symbol));
  }
  return Status::Ok();
}

}  // namespace

Status ElfSymbolTable::Parse(std::string_view data, ElfSymbolTable* out) {
  *out = ElfSymbolTable();
  NVLAB_RETURN_IF_ERROR(CheckElf64LittleEndian(data));
  const Bytes bytes(data);
  const auto machine = bytes.Get<uint16_t>(18);
  if (machine != kEmX86_64) {
    return Status::InvalidArgument("not an x86-64 ELF file (e_machine " + std::to_string(machine) +
                                   ")");
  }
  ElfSymbolTable table;
  table.type_ = bytes.Get<uint16_t>(16);
  table.entry_ = bytes.Get<uint64_t>(24);
  // Every section header; a file without any has no symbols to name.
  std::vector<Section> sections;
  NVLAB_RETURN_IF_ERROR(ReadElfSections(data, &sections));
  const Section* symtab = nullptr;
  for (uint32_t wanted : {kShtSymtab, kShtDynsym}) {
    for (const Section& s : sections) {
      if (s.type == wanted) {
        symtab = &s;
        break;
      }
    }
    if (symtab != nullptr) break;
  }
  if (symtab != nullptr) {
    if (symtab->link >= sections.size()) {
      return Status::InvalidArgument("ELF symbol table links to section " +
                                     std::to_string(symtab->link) + " of " +
                                     std::to_string(sections.size()));
    }
    NVLAB_RETURN_IF_ERROR(ReadSymbols(bytes, *symtab, sections[symtab->link], &table.symbols_));
  }
  uint64_t reach = 0;
  for (const ElfSymbol& s : table.symbols_) {
    reach = std::max(reach, s.address + s.size);
    table.reach_.push_back(reach);
  }
  *out = std::move(table);
  return Status::Ok();
}

bool ElfSymbolTable::IsElfFile(const std::filesystem::path& file) {
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return false;
  struct stat st {};
  char magic[4] = {};
  const bool elf = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                   pread(fd, magic, sizeof magic, 0) == static_cast<ssize_t>(sizeof magic) &&
                   std::memcmp(magic,
                               "\x7f"
                               "ELF",
                               4) == 0;
  close(fd);
  return elf;
}

Status ElfSymbolTable::Load(const std::filesystem::path& file, ElfSymbolTable* out) {
  *out = ElfSymbolTable();
  // O_NONBLOCK: a FIFO put in the candidate's place must not hang nvlab.
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return Status::IoErrorFromErrno(file.string(), errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Status::IoErrorFromErrno(file.string(), err);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidArgument(file.string() + ": not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxElfFileBytes) {
    close(fd);
    return Status::InvalidArgument(file.string() + ": larger than " +
                                   std::to_string(kMaxElfFileBytes >> 20) + " MiB");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return Status::IoErrorFromErrno(file.string(), err);
    }
    if (n == 0) break;  // shrank while we read: parse what is there
    done += static_cast<size_t>(n);
  }
  close(fd);
  bytes.resize(done);
  const Status s = Parse(bytes, out);
  return s.ok() ? s : s.WithContext(file.string());
}

const ElfSymbol* ElfSymbolTable::Find(uint64_t address) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                             [](uint64_t a, const ElfSymbol& s) { return a < s.address; });
  // Every symbol before `it` starts at or below address; the closest that contains it wins. The
  // walk stops where no symbol so far reaches past address.
  for (size_t i = static_cast<size_t>(it - symbols_.begin()); i > 0 && reach_[i - 1] > address;
       --i) {
    const ElfSymbol& s = symbols_[i - 1];
    if (address - s.address < s.size) return &s;
  }
  return nullptr;
}

const ElfSymbol* ElfSymbolTable::FindByName(std::string_view name) const {
  for (const ElfSymbol& s : symbols_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::optional<std::string> ElfSymbolTable::Symbolize(uint64_t address) const {
  if (type_ != kElfTypeExec) return std::nullopt;
  const ElfSymbol* s = Find(address);
  if (s == nullptr) return std::nullopt;
  return s->name + "+" + FormatHex(address - s->address);
}

}  // namespace nvlab::formats
