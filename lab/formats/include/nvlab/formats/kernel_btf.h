// File: nvlab/formats/kernel_btf.h
//
// Reading the guest kernel's own type information to find, for the exact kernel build an image
// boots, where the running task's pointer lives in the per-CPU area and where a task keeps its
// pid, tgid and comm (nvlab::KernelTaskLayout, nvlab/guest_image.h).
//
// The type information is BTF, the .BTF section of a vmlinux built with CONFIG_DEBUG_INFO_BTF
// (the kernel's Documentation/bpf/btf.rst). A BTF blob is a header (magic 0xEB9F, version 1,
// the header's length, then the offset and length of the type and string sections, counted from
// the end of the header), a type section and a string section. The type section is a sequence
// of records, numbered from 1 in order (type 0 is void); each is a 12-byte btf_type (name
// offset, info word: vlen in bits 0-15, kind in bits 24-28, kind_flag in bit 31; then a size or
// a type id) followed by data whose length depends on the kind: a u32 for INT, VAR and
// DECL_TAG, a btf_array for ARRAY, and vlen entries of a kind-specific record for STRUCT and
// UNION (members), ENUM and ENUM64 (values), FUNC_PROTO (parameters) and DATASEC (variables with
// their offset in the section). The string section is NUL-terminated names; offset 0 is "".
// Per-CPU variables are the VARs listed by the DATASEC named ".data..percpu".
//
// KernelBtf::Parse checks the whole blob before answering anything: the header, that both
// sections lie inside the blob, every record of every kind fits in the type section, every name
// offset lies in the string section, every type id refers to an existing type. A corrupt or
// truncated blob is an InvalidArgument naming what is wrong and where; no input reads outside
// the blob (fuzz/lab/kernel_btf_fuzzer.cc).
//
// Thread-safety: a parsed KernelBtf is immutable; its const methods may be called concurrently.

#ifndef NVLAB_FORMATS_KERNEL_BTF_H_
#define NVLAB_FORMATS_KERNEL_BTF_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/formats/kernel_task_layout.h"
#include "nvlab/status.h"

namespace nvlab::formats {

// BtfKind is the kind of a type record (BTF_KIND_*).
enum class BtfKind : std::uint8_t {
  kInt = 1,
  kPointer = 2,
  kArray = 3,
  kStruct = 4,
  kUnion = 5,
  kEnum = 6,
  kForward = 7,  // a struct (or, with kind_flag, a union) declared but not defined
  kTypedef = 8,
  kVolatile = 9,
  kConst = 10,
  kRestrict = 11,
  kFunction = 12,
  kFunctionPrototype = 13,
  kVariable = 14,
  kDataSection = 15,
  kFloat = 16,
  kDeclarationTag = 17,
  kTypeTag = 18,
  kEnum64 = 19,
};

// BtfKindName returns "struct", "typedef", "datasec", ... ("kind N" for an unknown one).
std::string BtfKindName(std::uint32_t kind);

// BtfType is one type record's header, as Parse found it.
struct BtfType {
  BtfKind kind = BtfKind::kInt;
  bool kind_flag = false;
  std::uint16_t vlen = 0;          // number of members, values, parameters or variables
  std::uint32_t name_offset = 0;   // in the string section
  std::uint32_t size_or_type = 0;  // a size (INT, STRUCT, UNION, ENUM, DATASEC...) or type id
  std::uint32_t data_offset = 0;   // in the type section: the kind-specific data that follows
};

// BtfMember is where a member was found: its byte offset from the start of the struct or union
// that was searched, and its type.
struct BtfMember {
  std::uint64_t byte_offset = 0;
  std::uint32_t type_id = 0;
};

// BtfVariable is a variable of a DATASEC: its offset in the section, its size and its type.
struct BtfVariable {
  std::uint32_t section_offset = 0;
  std::uint32_t size = 0;
  std::uint32_t type_id = 0;
};

// KernelBtf is a parsed and checked BTF blob (it keeps a copy of the bytes).
class KernelBtf {
 public:
  // Parse checks blob completely, then fills *btf (left untouched on failure). A blob that is
  // not BTF, corrupt or truncated: InvalidArgument. Another BTF version or a big-endian blob:
  // NotSupported.
  static Status Parse(std::string_view blob, KernelBtf* btf);

  // type_count is the number of type records; their ids are 1 to type_count().
  std::uint32_t type_count() const { return static_cast<std::uint32_t>(types_.size() - 1); }

  // Type returns the record of id 1..type_count(), nullptr for void (0) or past the last type.
  const BtfType* Type(std::uint32_t type_id) const;

  // Name returns the name of a type ("" when anonymous or void).
  std::string_view Name(std::uint32_t type_id) const;

  // FindMember finds member_name in the struct or union named aggregate_name (if there is none
  // of that name, the one a typedef of that name denotes). Members of anonymous struct and
  // union members count as members of the enclosing one, at their nested offset, as in C; the
  // types of anonymous members are followed through typedefs, qualifiers and type tags.
  // Several aggregates of that name must agree (else InvalidArgument). No such aggregate or
  // member: NotFound. A bitfield member, or one not on a byte boundary: NotSupported.
  Status FindMember(std::string_view aggregate_name, std::string_view member_name,
                    BtfMember* member) const;

  // FindMemberOfType is FindMember in the struct or union type_id denotes (after typedefs,
  // qualifiers and type tags). type_id not a struct or union: InvalidArgument.
  Status FindMemberOfType(std::uint32_t type_id, std::string_view member_name,
                          BtfMember* member) const;

  // FindPerCpuVariable finds the variable name in the DATASEC ".data..percpu". No such DATASEC
  // or variable: NotFound. A DATASEC entry that is not a VAR, or lies past the section's size:
  // InvalidArgument.
  Status FindPerCpuVariable(std::string_view name, BtfVariable* variable) const;

  // TypeSpelling spells a type the way its memory layout reads, with typedefs, qualifiers and
  // type tags removed: "int", "char[16]", "struct task_struct *", "union <anonymous>", "void".
  std::string TypeSpelling(std::uint32_t type_id) const;

 private:
  struct MemberSearch;

  std::string_view String(std::uint32_t offset) const;
  std::uint32_t Word(std::uint32_t type_section_offset) const;
  Status StripAliases(std::uint32_t type_id, std::uint32_t* stripped) const;
  Status SearchMembers(std::uint32_t aggregate_id, std::string_view member_name,
                       std::uint64_t base_offset, int depth, MemberSearch* search) const;
  std::string Spell(std::uint32_t type_id, int depth) const;

  std::string blob_;
  std::size_t types_begin_ = 0;  // the type section: blob_[types_begin_, + types_size_)
  std::size_t types_size_ = 0;
  std::size_t strings_begin_ = 0;  // the string section, whose last byte is NUL
  std::size_t strings_size_ = 0;
  std::vector<BtfType> types_ = std::vector<BtfType>(1);  // [0] stands for void
};

// kTaskCommLength is TASK_COMM_LEN: the size of task_struct's comm.
inline constexpr std::uint32_t kTaskCommLength = 16;

// FindKernelTaskLayoutInBtf reads the task layout (nvlab::KernelTaskLayout) from a kernel's BTF
// blob; percpu_section_address is the link address of the kernel's .data..percpu section,
// added to the per-CPU offset. It checks the types, so that a renamed or retyped field cannot
// be misread: comm must be char[16], pid and tgid int (pid_t), the current-task pointer a
// struct task_struct *, found as the per-CPU variable current_task or else as the member
// current_task of the per-CPU variable pcpu_hot. Errors: those of Parse and the Find methods
// (NotFound names what is missing), InvalidArgument for a field of an unexpected type.
Status FindKernelTaskLayoutInBtf(std::string_view btf, std::uint64_t percpu_section_address,
                                 KernelTaskLayout* layout);

// FindKernelTaskLayoutInElf finds the .BTF and .data..percpu sections of an uncompressed
// kernel (a vmlinux ELF file) and reads the layout from them. No .BTF section: NotFound (a kernel
// built without CONFIG_DEBUG_INFO_BTF); not an ELF file: InvalidArgument.
Status FindKernelTaskLayoutInElf(std::string_view vmlinux, KernelTaskLayout* layout);

// FindKernelTaskLayout is FindKernelTaskLayoutInElf on a file, which it maps rather than reads
// (only the section headers and the BTF, some 5 MB of a 60 MB kernel, are touched). Missing
// file: NotFound; unreadable: IoError.
Status FindKernelTaskLayout(const std::filesystem::path& vmlinux, KernelTaskLayout* layout);

}  // namespace nvlab::formats

#endif  // NVLAB_FORMATS_KERNEL_BTF_H_
