// kernel_btf.cc -- KernelBtf (parse and check a BTF blob; members, per-CPU variables, type
// spellings) and FindKernelTaskLayout* (the task layout of a kernel build, from its vmlinux).

#include "nvlab/formats/kernel_btf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "nvlab/formats/elf_file.h"
#include "nvlab/hex.h"

namespace nvlab::formats {
namespace {

constexpr std::uint16_t kBtfMagic = 0xeb9f;
constexpr std::uint16_t kBtfMagicByteSwapped = 0x9feb;
constexpr std::uint8_t kBtfVersion = 1;
constexpr std::uint32_t kBtfHeaderSize = 24;      // struct btf_header, version 1
constexpr std::uint32_t kBtfTypeHeaderSize = 12;  // struct btf_type
constexpr std::uint32_t kBtfMaxTypes = 0xfffff;   // BTF_MAX_TYPE
constexpr std::uint32_t kMaxKind = static_cast<std::uint32_t>(BtfKind::kEnum64);
// kMaxChain bounds typedef/qualifier chains, anonymous member nesting and spelled type depth,
// so that a blob with a reference loop gives an error rather than endless recursion.
constexpr int kMaxChain = 32;
// kMaxMembersSearched bounds the members one lookup examines: anonymous members that share
// types could otherwise make a crafted blob's search exponential (a real task_struct: ~300).
constexpr std::uint64_t kMaxMembersSearched = 1 << 20;
constexpr char kPerCpuSection[] = ".data..percpu";
constexpr char kTaskStruct[] = "task_struct";

std::uint32_t LoadWord(std::string_view bytes, std::size_t offset) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data() + offset, sizeof(value));  // x86-64 hosts: little-endian
  return value;
}

// KindLayout says what follows a type record of one kind: a fixed part and vlen entries.
struct KindLayout {
  std::uint32_t fixed_size = 0;
  std::uint32_t entry_size = 0;  // 0: vlen must be 0 (FUNC, whose vlen is its linkage, aside)
};

KindLayout LayoutOf(BtfKind kind) {
  switch (kind) {
    case BtfKind::kInt:
    case BtfKind::kVariable:
    case BtfKind::kDeclarationTag:
      return {4, 0};  // encoding; linkage; component index
    case BtfKind::kArray:
      return {12, 0};  // element type, index type, element count
    case BtfKind::kStruct:
    case BtfKind::kUnion:
    case BtfKind::kDataSection:
    case BtfKind::kEnum64:
      return {0, 12};  // name, type, offset; type, offset, size; name, low, high
    case BtfKind::kEnum:
    case BtfKind::kFunctionPrototype:
      return {0, 8};  // name, value; name, type
    default:
      return {0, 0};
  }
}

// IsAlias: kinds that only rename or qualify the type they refer to.
bool IsAlias(BtfKind kind) {
  return kind == BtfKind::kTypedef || kind == BtfKind::kVolatile || kind == BtfKind::kConst ||
         kind == BtfKind::kRestrict || kind == BtfKind::kTypeTag;
}

bool IsAggregate(const BtfType* type) {
  return type != nullptr && (type->kind == BtfKind::kStruct || type->kind == BtfKind::kUnion);
}

// RefersThroughHeader: kinds whose size_or_type field is a type id.
bool RefersThroughHeader(BtfKind kind) {
  return IsAlias(kind) || kind == BtfKind::kPointer || kind == BtfKind::kFunction ||
         kind == BtfKind::kFunctionPrototype || kind == BtfKind::kVariable ||
         kind == BtfKind::kDeclarationTag;
}

// TypeReferences lists the offsets (in the type section) of the type ids in a record's data.
std::vector<std::uint32_t> TypeReferences(const BtfType& type) {
  std::vector<std::uint32_t> offsets;
  switch (type.kind) {
    case BtfKind::kArray:
      offsets = {type.data_offset, type.data_offset + 4};
      break;
    case BtfKind::kStruct:
    case BtfKind::kUnion:  // name, type, offset
      for (std::uint32_t i = 0; i < type.vlen; ++i) {
        offsets.push_back(type.data_offset + 12 * i + 4);
      }
      break;
    case BtfKind::kFunctionPrototype:  // name, type
      for (std::uint32_t i = 0; i < type.vlen; ++i) {
        offsets.push_back(type.data_offset + 8 * i + 4);
      }
      break;
    case BtfKind::kDataSection:  // type, offset, size
      for (std::uint32_t i = 0; i < type.vlen; ++i) {
        offsets.push_back(type.data_offset + 12 * i);
      }
      break;
    default:
      break;
  }
  return offsets;
}

// NameReferences lists the offsets of the name offsets in a record's entries.
std::vector<std::uint32_t> NameReferences(const BtfType& type) {
  std::vector<std::uint32_t> offsets;
  KindLayout layout = LayoutOf(type.kind);
  if (type.kind == BtfKind::kDataSection || layout.entry_size == 0) return offsets;
  for (std::uint32_t i = 0; i < type.vlen; ++i) {
    offsets.push_back(type.data_offset + layout.entry_size * i);
  }
  return offsets;
}

std::string TypeLabel(std::uint32_t id, const BtfType& type) {
  return "BTF type " + std::to_string(id) + " (" +
         BtfKindName(static_cast<std::uint32_t>(type.kind)) + ")";
}

}  // namespace

std::string BtfKindName(std::uint32_t kind) {
  static constexpr const char* kNames[] = {
      "void", "int",     "ptr",      "array",    "struct",   "union", "enum",
      "fwd",  "typedef", "volatile", "const",    "restrict", "func",  "func_proto",
      "var",  "datasec", "float",    "decl_tag", "type_tag", "enum64"};
  if (kind <= kMaxKind) return kNames[kind];
  return "kind " + std::to_string(kind);
}

// ---------------------------------------------------------------------------------------------
// Parsing and checking.

namespace {

// BtfSections are where the header says the type and string sections are, in blob offsets.
struct BtfSections {
  std::uint32_t header_size = 0;
  std::uint64_t types_begin = 0;
  std::uint64_t types_size = 0;
  std::uint64_t strings_begin = 0;
  std::uint64_t strings_size = 0;
};

// ReadHeader checks the magic, version and header length and reads the sections' places.
Status ReadHeader(std::string_view blob, BtfSections* sections) {
  if (blob.size() < 4) {
    return Status::InvalidArgument("BTF header truncated: " + std::to_string(blob.size()) +
                                   " bytes");
  }
  std::uint16_t magic = 0;
  std::memcpy(&magic, blob.data(), sizeof(magic));
  if (magic == kBtfMagicByteSwapped) return Status::NotSupported("big-endian BTF");
  if (magic != kBtfMagic) return Status::InvalidArgument("not BTF: magic " + FormatHex(magic));
  auto version = static_cast<std::uint8_t>(blob[2]);
  if (version != kBtfVersion) {
    return Status::NotSupported("BTF version " + std::to_string(version) + " (1 is known)");
  }
  if (blob.size() < kBtfHeaderSize) {
    return Status::InvalidArgument("BTF header truncated: " + std::to_string(blob.size()) +
                                   " bytes");
  }
  std::uint32_t header_size = LoadWord(blob, 4);
  if (header_size < kBtfHeaderSize) {
    return Status::InvalidArgument("BTF header length " + std::to_string(header_size) +
                                   " is shorter than the header");
  }
  if (header_size > blob.size()) {
    return Status::InvalidArgument("BTF header truncated: its length is " +
                                   std::to_string(header_size) + ", the blob " +
                                   std::to_string(blob.size()) + " bytes");
  }
  // A longer header has fields this reader does not know; the kernel accepts it if they are zero.
  for (std::size_t i = kBtfHeaderSize; i < header_size; ++i) {
    if (blob[i] != '\0') return Status::NotSupported("BTF header has unknown non-zero fields");
  }
  sections->header_size = header_size;
  sections->types_begin = std::uint64_t{header_size} + LoadWord(blob, 8);
  sections->types_size = LoadWord(blob, 12);
  sections->strings_begin = std::uint64_t{header_size} + LoadWord(blob, 16);
  sections->strings_size = LoadWord(blob, 20);
  return Status::Ok();
}

// CheckSections checks that both sections lie in the blob, apart, the type section aligned and
// the string section starting and ending with a NUL.
Status CheckSections(std::string_view blob, const BtfSections& s) {
  if (s.types_begin + s.types_size > blob.size()) {
    return Status::InvalidArgument("BTF type section [" + std::to_string(s.types_begin) + ", +" +
                                   std::to_string(s.types_size) + ") lies past the end of the " +
                                   std::to_string(blob.size()) + "-byte blob");
  }
  if (s.strings_begin + s.strings_size > blob.size()) {
    return Status::InvalidArgument("BTF string section [" + std::to_string(s.strings_begin) +
                                   ", +" + std::to_string(s.strings_size) +
                                   ") lies past the end of the " + std::to_string(blob.size()) +
                                   "-byte blob");
  }
  if ((s.types_begin - s.header_size) % 4 != 0) {
    return Status::InvalidArgument("BTF type section is not 4-byte aligned");
  }
  if (s.types_begin < s.strings_begin + s.strings_size &&
      s.strings_begin < s.types_begin + s.types_size) {
    return Status::InvalidArgument("BTF type and string sections overlap");
  }
  std::string_view strings = blob.substr(s.strings_begin, s.strings_size);
  if (strings.empty() || strings.front() != '\0' || strings.back() != '\0') {
    return Status::InvalidArgument(
        "BTF string section must start and end with a NUL (empty name, last name's end)");
  }
  return Status::Ok();
}

// ReadTypeRecords walks the type section and appends each record to *records (whose [0] stands
// for void): its header and its data must lie in the section.
Status ReadTypeRecords(std::string_view types, std::vector<BtfType>* records) {
  std::uint32_t offset = 0;
  while (offset < types.size()) {
    auto id = static_cast<std::uint32_t>(records->size());
    if (id > kBtfMaxTypes) return Status::InvalidArgument("BTF has more than 2^20 - 1 types");
    if (types.size() - offset < kBtfTypeHeaderSize) {
      return Status::InvalidArgument("BTF type " + std::to_string(id) +
                                     " truncated: " + std::to_string(types.size() - offset) +
                                     " bytes left in the type section");
    }
    std::uint32_t info = LoadWord(types, offset + 4);
    std::uint32_t kind = (info >> 24) & 0x1f;
    if (kind == 0 || kind > kMaxKind) {
      return Status::InvalidArgument("BTF type " + std::to_string(id) + " has unknown kind " +
                                     std::to_string(kind));
    }
    BtfType type;
    type.kind = static_cast<BtfKind>(kind);
    type.kind_flag = (info >> 31) != 0;
    type.vlen = static_cast<std::uint16_t>(info & 0xffff);
    type.name_offset = LoadWord(types, offset);
    type.size_or_type = LoadWord(types, offset + 8);
    type.data_offset = offset + kBtfTypeHeaderSize;
    KindLayout layout = LayoutOf(type.kind);
    if (layout.entry_size == 0 && type.vlen != 0 && type.kind != BtfKind::kFunction) {
      return Status::InvalidArgument(TypeLabel(id, type) + " has vlen " +
                                     std::to_string(type.vlen) + "; its kind has no entries");
    }
    std::uint64_t data_size = layout.fixed_size + std::uint64_t{layout.entry_size} * type.vlen;
    if (data_size > types.size() - type.data_offset) {
      return Status::InvalidArgument(TypeLabel(id, type) + " with vlen " +
                                     std::to_string(type.vlen) + " runs " +
                                     std::to_string(data_size - (types.size() - type.data_offset)) +
                                     " bytes past the end of the type section");
    }
    records->push_back(type);
    offset = static_cast<std::uint32_t>(type.data_offset + data_size);
  }
  return Status::Ok();
}

// CheckReferences checks that every name lies in the string section and every type id names a
// type. ReadTypeRecords checked that each record's data lies in the type section.
Status CheckReferences(std::string_view types, const std::vector<BtfType>& records,
                       std::uint64_t strings_size) {
  auto count = static_cast<std::uint32_t>(records.size() - 1);
  for (std::uint32_t id = 1; id <= count; ++id) {
    const BtfType& type = records[id];
    std::vector<std::uint32_t> names = {type.name_offset};
    for (std::uint32_t at : NameReferences(type)) names.push_back(LoadWord(types, at));
    for (std::uint32_t name : names) {
      if (name >= strings_size) {
        return Status::InvalidArgument(TypeLabel(id, type) + " names string offset " +
                                       std::to_string(name) + ", past the " +
                                       std::to_string(strings_size) + "-byte string section");
      }
    }
    std::vector<std::uint32_t> targets;
    if (RefersThroughHeader(type.kind)) targets.push_back(type.size_or_type);
    for (std::uint32_t at : TypeReferences(type)) targets.push_back(LoadWord(types, at));
    for (std::uint32_t target : targets) {
      if (target > count) {
        return Status::InvalidArgument(TypeLabel(id, type) + " refers to type " +
                                       std::to_string(target) + "; the last type is " +
                                       std::to_string(count));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status KernelBtf::Parse(std::string_view blob, KernelBtf* btf) {
  BtfSections sections;
  NVLAB_RETURN_IF_ERROR(ReadHeader(blob, &sections));
  NVLAB_RETURN_IF_ERROR(CheckSections(blob, sections));
  KernelBtf parsed;  // moved to *btf once all is checked
  parsed.blob_.assign(blob);
  parsed.types_begin_ = sections.types_begin;
  parsed.types_size_ = sections.types_size;
  parsed.strings_begin_ = sections.strings_begin;
  parsed.strings_size_ = sections.strings_size;
  std::string_view types =
      std::string_view(parsed.blob_).substr(sections.types_begin, sections.types_size);
  NVLAB_RETURN_IF_ERROR(ReadTypeRecords(types, &parsed.types_));
  NVLAB_RETURN_IF_ERROR(CheckReferences(types, parsed.types_, sections.strings_size));
  *btf = std::move(parsed);
  return Status::Ok();
}

const BtfType* KernelBtf::Type(std::uint32_t type_id) const {
  if (type_id == 0 || type_id >= types_.size()) return nullptr;
  return &types_[type_id];
}

std::string_view KernelBtf::Name(std::uint32_t type_id) const {
  const BtfType* type = Type(type_id);
  return type == nullptr ? std::string_view() : String(type->name_offset);
}

std::string_view KernelBtf::String(std::uint32_t offset) const {
  if (offset >= strings_size_) return {};
  std::string_view rest =
      std::string_view(blob_).substr(strings_begin_ + offset, strings_size_ - offset);
  return rest.substr(0, rest.find('\0'));  // Parse checked that the section ends with a NUL
}

std::uint32_t KernelBtf::Word(std::uint32_t type_section_offset) const {
  if (type_section_offset > types_size_ || types_size_ - type_section_offset < 4) return 0;
  return LoadWord(blob_, types_begin_ + type_section_offset);
}

Status KernelBtf::StripAliases(std::uint32_t type_id, std::uint32_t* stripped) const {
  for (int hop = 0; hop < kMaxChain; ++hop) {
    const BtfType* type = Type(type_id);
    if (type == nullptr || !IsAlias(type->kind)) {
      *stripped = type_id;
      return Status::Ok();
    }
    type_id = type->size_or_type;
  }
  return Status::InvalidArgument("BTF type " + std::to_string(type_id) +
                                 ": typedefs and qualifiers chained more than " +
                                 std::to_string(kMaxChain) + " deep (a loop?)");
}

// ---------------------------------------------------------------------------------------------
// Members.

struct KernelBtf::MemberSearch {
  std::uint64_t members_left = kMaxMembersSearched;
  bool found = false;
  std::uint64_t bit_offset = 0;
  std::uint32_t type_id = 0;
};

Status KernelBtf::SearchMembers(std::uint32_t aggregate_id, std::string_view member_name,
                                std::uint64_t base_bits, int depth, MemberSearch* search) const {
  if (member_name.empty()) return Status::InvalidArgument("no member name to look for");
  if (depth > kMaxChain) {
    return Status::InvalidArgument("BTF anonymous members nested more than " +
                                   std::to_string(kMaxChain) + " deep");
  }
  const BtfType& aggregate = types_[aggregate_id];
  for (std::uint32_t i = 0; i < aggregate.vlen; ++i) {
    if (search->members_left-- == 0) {
      return Status::InvalidArgument("BTF lookup of " + std::string(member_name) +
                                     " examined more than " + std::to_string(kMaxMembersSearched) +
                                     " members");
    }
    std::uint32_t entry = aggregate.data_offset + 12 * i;
    std::string_view name = String(Word(entry));
    std::uint32_t type_id = Word(entry + 4);
    std::uint32_t encoded_offset = Word(entry + 8);
    // With kind_flag, the offset word is bitfield size (bits 24-31) and bit offset (0-23).
    std::uint32_t bitfield_bits = aggregate.kind_flag ? encoded_offset >> 24 : 0;
    std::uint64_t bits =
        base_bits + (aggregate.kind_flag ? encoded_offset & 0xffffff : encoded_offset);
    if (name != member_name && !name.empty()) continue;
    std::uint32_t stripped = 0;
    NVLAB_RETURN_IF_ERROR(StripAliases(type_id, &stripped));
    const BtfType* member_type = Type(stripped);
    if (name == member_name) {
      // Without kind_flag a bitfield is an INT whose encoding has a bit offset or fewer bits.
      if (!aggregate.kind_flag && member_type != nullptr && member_type->kind == BtfKind::kInt) {
        std::uint32_t encoding = Word(member_type->data_offset);
        if (((encoding >> 16) & 0xff) != 0 ||
            (encoding & 0xff) != std::uint64_t{member_type->size_or_type} * 8) {
          bitfield_bits = encoding & 0xff;
        }
      }
      if (bitfield_bits != 0) {
        return Status::NotSupported("member " + std::string(member_name) + " of " +
                                    TypeSpelling(aggregate_id) + " is a " +
                                    std::to_string(bitfield_bits) + "-bit bitfield");
      }
      if (bits % 8 != 0) {
        return Status::NotSupported("member " + std::string(member_name) + " of " +
                                    TypeSpelling(aggregate_id) + " is not byte-aligned (bit " +
                                    std::to_string(bits) + ")");
      }
      search->found = true;
      search->bit_offset = bits;
      search->type_id = type_id;
      return Status::Ok();
    }
    if (IsAggregate(member_type)) {  // an anonymous struct or union member
      NVLAB_RETURN_IF_ERROR(SearchMembers(stripped, member_name, bits, depth + 1, search));
      if (search->found) return Status::Ok();
    }
  }
  return Status::Ok();
}

Status KernelBtf::FindMember(std::string_view aggregate_name, std::string_view member_name,
                             BtfMember* member) const {
  if (aggregate_name.empty()) return Status::InvalidArgument("no struct name to look in");
  std::vector<std::uint32_t> aggregates;
  for (std::uint32_t id = 1; id < types_.size(); ++id) {
    if (IsAggregate(&types_[id]) && Name(id) == aggregate_name) aggregates.push_back(id);
  }
  if (aggregates.empty()) {
    for (std::uint32_t id = 1; id < types_.size(); ++id) {
      if (types_[id].kind != BtfKind::kTypedef || Name(id) != aggregate_name) continue;
      std::uint32_t stripped = 0;
      NVLAB_RETURN_IF_ERROR(StripAliases(id, &stripped));
      if (IsAggregate(Type(stripped))) aggregates.push_back(stripped);
    }
  }
  if (aggregates.empty()) {
    return Status::NotFound("BTF has no struct or union named " + std::string(aggregate_name));
  }
  MemberSearch search;  // one budget for all the aggregates of that name
  bool found = false;
  BtfMember result;
  for (std::uint32_t id : aggregates) {
    search.found = false;
    NVLAB_RETURN_IF_ERROR(SearchMembers(id, member_name, 0, 0, &search));
    if (!search.found) continue;
    if (found && result.byte_offset != search.bit_offset / 8) {
      return Status::InvalidArgument(
          "BTF has several types named " + std::string(aggregate_name) + " that place " +
          std::string(member_name) + " at different offsets (" +
          std::to_string(result.byte_offset) + ", " + std::to_string(search.bit_offset / 8) + ")");
    }
    found = true;
    result = {search.bit_offset / 8, search.type_id};
  }
  if (!found) {
    return Status::NotFound(TypeSpelling(aggregates.front()) + " has no member " +
                            std::string(member_name));
  }
  *member = result;
  return Status::Ok();
}

Status KernelBtf::FindMemberOfType(std::uint32_t type_id, std::string_view member_name,
                                   BtfMember* member) const {
  std::uint32_t stripped = 0;
  NVLAB_RETURN_IF_ERROR(StripAliases(type_id, &stripped));
  if (!IsAggregate(Type(stripped))) {
    return Status::InvalidArgument("BTF type " + std::to_string(type_id) + " (" +
                                   TypeSpelling(type_id) + ") is not a struct or union");
  }
  MemberSearch search;
  NVLAB_RETURN_IF_ERROR(SearchMembers(stripped, member_name, 0, 0, &search));
  if (!search.found) {
    return Status::NotFound(TypeSpelling(stripped) + " has no member " + std::string(member_name));
  }
  member->byte_offset = search.bit_offset / 8;
  member->type_id = search.type_id;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Per-CPU variables.

Status KernelBtf::FindPerCpuVariable(std::string_view name, BtfVariable* variable) const {
  bool section_found = false;
  bool found = false;
  BtfVariable result;
  for (std::uint32_t id = 1; id < types_.size(); ++id) {
    const BtfType& section = types_[id];
    if (section.kind != BtfKind::kDataSection || Name(id) != kPerCpuSection) continue;
    section_found = true;
    for (std::uint32_t i = 0; i < section.vlen; ++i) {
      std::uint32_t entry = section.data_offset + 12 * i;
      std::uint32_t variable_id = Word(entry);
      const BtfType* variable_type = Type(variable_id);
      if (variable_type == nullptr || variable_type->kind != BtfKind::kVariable) {
        return Status::InvalidArgument("BTF " + std::string(kPerCpuSection) + " entry " +
                                       std::to_string(i) + " is type " +
                                       std::to_string(variable_id) + ", not a var");
      }
      if (Name(variable_id) != name) continue;
      BtfVariable candidate{Word(entry + 4), Word(entry + 8), variable_type->size_or_type};
      if (std::uint64_t{candidate.section_offset} + candidate.size > section.size_or_type) {
        return Status::InvalidArgument(
            "BTF per-CPU variable " + std::string(name) + " at " +
            FormatHex(candidate.section_offset) + " (" + std::to_string(candidate.size) +
            " bytes) lies past the section's " + std::to_string(section.size_or_type) + " bytes");
      }
      if (found && candidate.section_offset != result.section_offset) {
        return Status::InvalidArgument("BTF has several per-CPU variables named " +
                                       std::string(name));
      }
      found = true;
      result = candidate;
    }
  }
  if (!section_found) {
    return Status::NotFound("BTF has no " + std::string(kPerCpuSection) + " datasec");
  }
  if (!found) return Status::NotFound("BTF has no per-CPU variable " + std::string(name));
  *variable = result;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Spelling.

std::string KernelBtf::TypeSpelling(std::uint32_t type_id) const {
  return Spell(type_id, 0);
}

std::string KernelBtf::Spell(std::uint32_t type_id, int depth) const {
  if (depth > kMaxChain) return "<too deep>";
  if (type_id == 0) return "void";
  const BtfType* type = Type(type_id);
  if (type == nullptr) return "<type " + std::to_string(type_id) + ">";
  std::string name(Name(type_id));
  std::string tag = name.empty() ? std::string("<anonymous>") : name;
  switch (type->kind) {
    case BtfKind::kInt:
    case BtfKind::kFloat:
      return name;
    case BtfKind::kPointer:
      return Spell(type->size_or_type, depth + 1) + " *";
    case BtfKind::kArray:
      return Spell(Word(type->data_offset), depth + 1) + "[" +
             std::to_string(Word(type->data_offset + 8)) + "]";
    case BtfKind::kStruct:
      return "struct " + tag;
    case BtfKind::kUnion:
      return "union " + tag;
    case BtfKind::kEnum:
    case BtfKind::kEnum64:
      return "enum " + tag;
    case BtfKind::kForward:
      return (type->kind_flag ? "union " : "struct ") + tag;
    case BtfKind::kTypedef:
    case BtfKind::kVolatile:
    case BtfKind::kConst:
    case BtfKind::kRestrict:
    case BtfKind::kTypeTag:
      return Spell(type->size_or_type, depth + 1);
    default:
      return BtfKindName(static_cast<std::uint32_t>(type->kind)) + " " + tag;
  }
}

// ---------------------------------------------------------------------------------------------
// The task layout.

namespace {

Status CheckSpelling(const KernelBtf& btf, std::uint32_t type_id, const std::string& expected,
                     const std::string& what) {
  std::string spelling = btf.TypeSpelling(type_id);
  if (spelling == expected) return Status::Ok();
  return Status::InvalidArgument(what + " is " + spelling + ", expected " + expected);
}

Status FindTaskField(const KernelBtf& btf, const char* member_name, const std::string& expected,
                     std::uint32_t* offset) {
  BtfMember member;
  NVLAB_RETURN_IF_ERROR(btf.FindMember(kTaskStruct, member_name, &member));
  NVLAB_RETURN_IF_ERROR(
      CheckSpelling(btf, member.type_id, expected, std::string("task_struct.") + member_name));
  if (member.byte_offset > std::numeric_limits<std::uint32_t>::max()) {
    return Status::InvalidArgument(std::string("task_struct.") + member_name + " lies past 4 GB");
  }
  *offset = static_cast<std::uint32_t>(member.byte_offset);
  return Status::Ok();
}

// FindCurrentTask finds the per-CPU pointer to the running task: the variable current_task, or
// else the member current_task of the variable pcpu_hot.
Status FindCurrentTask(const KernelBtf& btf, std::uint64_t* section_offset) {
  const std::string task_pointer = std::string("struct ") + kTaskStruct + " *";
  BtfVariable variable;
  Status status = btf.FindPerCpuVariable("current_task", &variable);
  if (status.ok()) {
    NVLAB_RETURN_IF_ERROR(
        CheckSpelling(btf, variable.type_id, task_pointer, "per-CPU variable current_task"));
    *section_offset = variable.section_offset;
    return Status::Ok();
  }
  if (status.code() != Status::Code::kNotFound) return status;
  status = btf.FindPerCpuVariable("pcpu_hot", &variable);
  if (status.code() == Status::Code::kNotFound) {
    return Status::NotFound(
        "BTF has neither the per-CPU variable current_task (Linux 6.1, 6.15 and later) nor "
        "pcpu_hot (6.2 to 6.14): " +
        status.message());
  }
  NVLAB_RETURN_IF_ERROR(status);
  BtfMember member;
  NVLAB_RETURN_IF_ERROR(btf.FindMemberOfType(variable.type_id, "current_task", &member));
  NVLAB_RETURN_IF_ERROR(CheckSpelling(btf, member.type_id, task_pointer, "pcpu_hot.current_task"));
  if (member.byte_offset + 8 > variable.size) {
    return Status::InvalidArgument("pcpu_hot.current_task lies past the variable's " +
                                   std::to_string(variable.size) + " bytes");
  }
  *section_offset = variable.section_offset + member.byte_offset;
  return Status::Ok();
}

// MappedFile maps a whole file read-only for its lifetime.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) munmap(data_, size_);
  }

  Status Map(const std::filesystem::path& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) return Status::NotFound(path.string() + " does not exist");
      return Status::IoErrorFromErrno("cannot open " + path.string(), err);
    }
    struct stat info {};
    if (fstat(fd, &info) != 0) {
      int err = errno;
      close(fd);
      return Status::IoErrorFromErrno("cannot stat " + path.string(), err);
    }
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ > 0) {
      void* data = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (data == MAP_FAILED) {
        int err = errno;
        close(fd);
        return Status::IoErrorFromErrno("cannot map " + path.string(), err);
      }
      data_ = data;
    }
    close(fd);
    return Status::Ok();
  }

  std::string_view bytes() const {
    return data_ == nullptr ? std::string_view()
                            : std::string_view(static_cast<char*>(data_), size_);
  }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

Status FindKernelTaskLayoutInBtf(std::string_view btf_blob, std::uint64_t percpu_section_address,
                                 KernelTaskLayout* layout) {
  KernelBtf btf;
  NVLAB_RETURN_IF_ERROR(KernelBtf::Parse(btf_blob, &btf));
  KernelTaskLayout found;
  NVLAB_RETURN_IF_ERROR(FindTaskField(btf, "comm", "char[" + std::to_string(kTaskCommLength) + "]",
                                      &found.task_comm_offset));
  NVLAB_RETURN_IF_ERROR(FindTaskField(btf, "pid", "int", &found.task_pid_offset));
  NVLAB_RETURN_IF_ERROR(FindTaskField(btf, "tgid", "int", &found.task_tgid_offset));
  std::uint64_t section_offset = 0;
  NVLAB_RETURN_IF_ERROR(FindCurrentTask(btf, &section_offset));
  found.current_task_percpu_offset = percpu_section_address + section_offset;
  *layout = found;
  return Status::Ok();
}

Status FindKernelTaskLayoutInElf(std::string_view vmlinux, KernelTaskLayout* layout) {
  ElfSection btf;
  Status status = FindElfSection(vmlinux, ".BTF", &btf);
  if (status.code() == Status::Code::kNotFound) {
    return Status::NotFound("the kernel has no .BTF section (built without CONFIG_DEBUG_INFO_BTF)");
  }
  if (!status.ok()) return status.WithContext("kernel");
  if (btf.type == kElfSectionNoBits) return Status::InvalidArgument("the kernel's .BTF is empty");
  ElfSection percpu;
  status = FindElfSection(vmlinux, kPerCpuSection, &percpu);
  if (status.code() == Status::Code::kNotFound) {
    return Status::NotFound("the kernel has no .data..percpu section (built without SMP?)");
  }
  NVLAB_RETURN_IF_ERROR(status);
  status = FindKernelTaskLayoutInBtf(vmlinux.substr(btf.offset, btf.size), percpu.address, layout);
  return status.WithContext("kernel BTF");
}

Status FindKernelTaskLayout(const std::filesystem::path& vmlinux, KernelTaskLayout* layout) {
  MappedFile file;
  NVLAB_RETURN_IF_ERROR(file.Map(vmlinux));
  return FindKernelTaskLayoutInElf(file.bytes(), layout).WithContext(vmlinux.string());
}

}  // namespace nvlab::formats
