// elf_zero_tails.cc -- TrimElfZeroTails: PT_LOAD file sizes without their trailing zeros.

#include "nvlab/formats/elf_zero_tails.h"

#include <cstring>
#include <string_view>
#include <vector>

#include "nvlab/formats/elf_file.h"

namespace nvlab::formats {
namespace {

constexpr std::uint32_t kPtLoad = 1;
constexpr std::uint64_t kProgramHeaderSize = 56;  // Elf64_Phdr
constexpr std::uint64_t kFileSizeField = 32;      // p_filesz within it
constexpr std::uint64_t kMemorySizeField = 40;    // p_memsz

template <typename T>
T Load(std::string_view bytes, std::uint64_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));  // x86-64 hosts: little-endian
  return value;
}

bool InRange(std::string_view bytes, std::uint64_t offset, std::uint64_t length) {
  return offset <= bytes.size() && length <= bytes.size() - offset;
}

// KeptLength returns how many leading bytes of segment remain once its trailing zeros are
// left out.
std::uint64_t KeptLength(std::string_view segment) {
  std::uint64_t end = segment.size();
  while (end > 0 && segment[end - 1] == '\0') --end;
  return end;
}

}  // namespace

Status TrimElfZeroTails(std::string* elf, std::uint64_t* trimmed_bytes) {
  if (trimmed_bytes != nullptr) *trimmed_bytes = 0;
  const std::string_view bytes(*elf);
  NVLAB_RETURN_IF_ERROR(CheckElf64LittleEndian(bytes));
  const auto ph_offset = Load<std::uint64_t>(bytes, 32);
  const auto ph_entry_size = Load<std::uint16_t>(bytes, 54);
  const auto ph_count = Load<std::uint16_t>(bytes, 56);
  if (ph_count == 0) return Status::Ok();
  if (ph_entry_size < kProgramHeaderSize) return Status::InvalidArgument("bad ELF phentsize");
  if (!InRange(bytes, ph_offset, std::uint64_t{ph_count} * ph_entry_size)) {
    return Status::InvalidArgument("ELF program headers outside the file");
  }
  // Every header is checked before any is rewritten: an error leaves *elf as it was.
  struct Change {
    std::uint64_t field;  // where p_filesz is
    std::uint64_t file_size;
  };
  std::vector<Change> changes;
  std::uint64_t trimmed = 0;
  for (std::uint64_t i = 0; i < ph_count; ++i) {
    const std::uint64_t header = ph_offset + i * ph_entry_size;
    if (Load<std::uint32_t>(bytes, header) != kPtLoad) continue;
    const auto offset = Load<std::uint64_t>(bytes, header + 8);
    const auto file_size = Load<std::uint64_t>(bytes, header + kFileSizeField);
    const auto memory_size = Load<std::uint64_t>(bytes, header + kMemorySizeField);
    if (!InRange(bytes, offset, file_size)) {
      return Status::InvalidArgument("ELF segment " + std::to_string(i) + " outside the file");
    }
    if (file_size > memory_size) {
      return Status::InvalidArgument("ELF segment " + std::to_string(i) +
                                     " has more file bytes than memory");
    }
    const std::uint64_t kept = KeptLength(bytes.substr(offset, file_size));
    if (kept == file_size) continue;
    changes.push_back({header + kFileSizeField, kept});
    trimmed += file_size - kept;
  }
  for (const Change& c : changes) std::memcpy(elf->data() + c.field, &c.file_size, 8);
  if (trimmed_bytes != nullptr) *trimmed_bytes = trimmed;
  return Status::Ok();
}

}  // namespace nvlab::formats
