// elf_file.cc -- ParseElf: program headers (PT_INTERP, PT_NOTE) and the dynamic section;
// FindElfSection: one section header by name.

#include "nvlab/formats/elf_file.h"

#include <cstring>

namespace nvlab::formats {
namespace {

constexpr std::uint32_t kPtInterp = 3;
constexpr std::uint32_t kPtNote = 4;
constexpr std::uint32_t kShtDynamic = 6;
constexpr std::int64_t kDtNeeded = 1;

// Reader reads little-endian integers with bounds checks; ok() turns false at the first
// out-of-range read and stays false.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  T Get(std::uint64_t offset) {
    T value{};
    if (offset > bytes_.size() || bytes_.size() - offset < sizeof(T)) {
      ok_ = false;
      return value;
    }
    std::memcpy(&value, bytes_.data() + offset, sizeof(T));  // x86-64 hosts: little-endian
    return value;
  }
  bool InRange(std::uint64_t offset, std::uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  std::string_view Slice(std::uint64_t offset, std::uint64_t length) const {
    return bytes_.substr(offset, length);
  }
  bool ok() const { return ok_; }

 private:
  std::string_view bytes_;
  bool ok_ = true;
};

std::uint64_t Align4(std::uint64_t value) {
  return (value + 3) & ~std::uint64_t{3};
}

void ParseNotes(Reader& reader, std::uint64_t offset, std::uint64_t size, ElfFacts* facts) {
  std::uint64_t end = offset + size;
  while (offset + 12 <= end) {
    auto name_size = reader.Get<std::uint32_t>(offset);
    auto desc_size = reader.Get<std::uint32_t>(offset + 4);
    auto type = reader.Get<std::uint32_t>(offset + 8);
    std::uint64_t name_offset = offset + 12;
    std::uint64_t desc_offset = name_offset + Align4(name_size);
    if (!reader.ok() || !reader.InRange(desc_offset, desc_size)) return;
    std::string_view name = reader.Slice(name_offset, name_size);
    if (name == std::string_view("Xen\0", 4) && type == kXenElfNotePhys32Entry) {
      if (desc_size == 4) facts->pvh_entry = reader.Get<std::uint32_t>(desc_offset);
      if (desc_size == 8) facts->pvh_entry = reader.Get<std::uint64_t>(desc_offset);
    }
    offset = desc_offset + Align4(desc_size);
  }
}

}  // namespace

Status CheckElf64LittleEndian(std::string_view bytes) {
  if (bytes.size() < 64 || bytes.substr(0, 4) !=
                               "\x7f"
                               "ELF") {
    return Status::InvalidArgument("not an ELF file");
  }
  if (bytes[4] != 2 || bytes[5] != 1) {
    return Status::InvalidArgument("not a 64-bit little-endian ELF file");
  }
  return Status::Ok();
}

Status ReadElfSections(std::string_view bytes, std::vector<ElfSection>* sections) {
  sections->clear();
  Reader reader(bytes);
  auto sh_offset = reader.Get<std::uint64_t>(40);
  auto sh_entry_size = reader.Get<std::uint16_t>(58);
  auto sh_count = reader.Get<std::uint16_t>(60);
  if (sh_count == 0) return Status::Ok();
  if (sh_entry_size < 64) {
    return Status::InvalidArgument("bad ELF section header size " + std::to_string(sh_entry_size));
  }
  if (!reader.InRange(sh_offset, std::uint64_t{sh_count} * sh_entry_size)) {
    return Status::InvalidArgument("ELF section headers outside the file");
  }
  sections->resize(sh_count);
  for (std::uint64_t i = 0; i < sh_count; ++i) {
    const std::uint64_t header = sh_offset + i * sh_entry_size;
    ElfSection& s = (*sections)[i];
    s.name_offset = reader.Get<std::uint32_t>(header);
    s.type = reader.Get<std::uint32_t>(header + 4);
    s.address = reader.Get<std::uint64_t>(header + 16);
    s.offset = reader.Get<std::uint64_t>(header + 24);
    s.size = reader.Get<std::uint64_t>(header + 32);
    s.link = reader.Get<std::uint32_t>(header + 40);
    s.entry_size = reader.Get<std::uint64_t>(header + 56);
  }
  return Status::Ok();
}

Status ParseElf(std::string_view bytes, ElfFacts* facts) {
  *facts = ElfFacts();
  NVLAB_RETURN_IF_ERROR(CheckElf64LittleEndian(bytes));
  Reader reader(bytes);
  facts->type = reader.Get<std::uint16_t>(16);
  auto ph_offset = reader.Get<std::uint64_t>(32);
  auto sh_offset = reader.Get<std::uint64_t>(40);
  auto ph_entry_size = reader.Get<std::uint16_t>(54);
  auto ph_count = reader.Get<std::uint16_t>(56);
  auto sh_entry_size = reader.Get<std::uint16_t>(58);
  auto sh_count = reader.Get<std::uint16_t>(60);
  if (ph_count > 0 && ph_entry_size < 56) return Status::InvalidArgument("bad ELF phentsize");
  for (std::uint64_t i = 0; i < ph_count; ++i) {
    std::uint64_t header = ph_offset + i * ph_entry_size;
    auto type = reader.Get<std::uint32_t>(header);
    auto offset = reader.Get<std::uint64_t>(header + 8);
    auto size = reader.Get<std::uint64_t>(header + 32);
    if (!reader.ok()) return Status::InvalidArgument("ELF program headers outside the file");
    if ((type == kPtInterp || type == kPtNote) && !reader.InRange(offset, size)) {
      return Status::InvalidArgument("ELF segment outside the file");
    }
    if (type == kPtInterp) {
      std::string_view interpreter = reader.Slice(offset, size);
      facts->interpreter = std::string(interpreter.substr(0, interpreter.find('\0')));
    } else if (type == kPtNote) {
      ParseNotes(reader, offset, size, facts);
    }
  }
  if (sh_count > 0 && sh_entry_size < 64) return Status::InvalidArgument("bad ELF shentsize");
  for (std::uint64_t i = 0; i < sh_count; ++i) {
    std::uint64_t header = sh_offset + i * sh_entry_size;
    auto type = reader.Get<std::uint32_t>(header + 4);
    if (!reader.ok()) return Status::InvalidArgument("ELF section headers outside the file");
    if (type != kShtDynamic) continue;
    auto offset = reader.Get<std::uint64_t>(header + 24);
    auto size = reader.Get<std::uint64_t>(header + 32);
    auto link = reader.Get<std::uint32_t>(header + 40);
    if (link >= sh_count) return Status::InvalidArgument("bad ELF dynamic string table");
    std::uint64_t strtab_header = sh_offset + std::uint64_t{link} * sh_entry_size;
    auto strtab_offset = reader.Get<std::uint64_t>(strtab_header + 24);
    auto strtab_size = reader.Get<std::uint64_t>(strtab_header + 32);
    if (!reader.ok() || !reader.InRange(offset, size) ||
        !reader.InRange(strtab_offset, strtab_size)) {
      return Status::InvalidArgument("ELF dynamic section outside the file");
    }
    std::string_view strtab = reader.Slice(strtab_offset, strtab_size);
    for (std::uint64_t entry = offset; entry + 16 <= offset + size; entry += 16) {
      auto tag = reader.Get<std::int64_t>(entry);
      auto value = reader.Get<std::uint64_t>(entry + 8);
      if (tag == 0) break;
      if (tag != kDtNeeded) continue;
      if (value >= strtab.size()) return Status::InvalidArgument("bad DT_NEEDED string");
      std::string_view name = strtab.substr(value);
      facts->needed.emplace_back(name.substr(0, name.find('\0')));
    }
  }
  return Status::Ok();
}

Status FindElfSection(std::string_view bytes, std::string_view name, ElfSection* section) {
  *section = ElfSection();
  NVLAB_RETURN_IF_ERROR(CheckElf64LittleEndian(bytes));
  std::vector<ElfSection> sections;
  NVLAB_RETURN_IF_ERROR(ReadElfSections(bytes, &sections));
  if (sections.empty()) return Status::NotFound("ELF file has no section headers");
  Reader reader(bytes);
  auto names_index = reader.Get<std::uint16_t>(62);
  if (names_index >= sections.size()) {
    return Status::InvalidArgument("bad ELF section name table index");
  }
  const ElfSection& name_table = sections[names_index];
  if (!reader.InRange(name_table.offset, name_table.size)) {
    return Status::InvalidArgument("ELF section name table outside the file");
  }
  std::string_view names = reader.Slice(name_table.offset, name_table.size);
  for (const ElfSection& candidate : sections) {
    if (candidate.name_offset >= names.size()) {
      return Status::InvalidArgument("bad ELF section name");
    }
    std::string_view section_name = names.substr(candidate.name_offset);
    if (section_name.substr(0, section_name.find('\0')) != name) continue;
    if (candidate.type != kElfSectionNoBits && !reader.InRange(candidate.offset, candidate.size)) {
      return Status::InvalidArgument("ELF section " + std::string(name) + " outside the file");
    }
    *section = candidate;
    return Status::Ok();
  }
  return Status::NotFound("ELF file has no section " + std::string(name));
}

}  // namespace nvlab::formats
