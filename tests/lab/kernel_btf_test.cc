// kernel_btf_test.cc -- the kernel's BTF and the task layout an image records: synthetic BTF
// blobs built here (both shapes of the current-task pointer, members through typedefs and
// anonymous members, a table of corrupt blobs), a synthetic vmlinux around one, the manifest's
// kernel_task_layout (unit: no QEMU), then the real image's kernel (KernelBtfRealImageTest:
// needs the CTest fixture guest_image).

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "nvlab/file_contents.h"
#include "nvlab/formats/elf_file.h"
#include "nvlab/formats/kernel_btf.h"
#include "nvlab/guest_image.h"
#include "nvlab/image/guest_image_layers.h"

namespace nvlab::image {
namespace {

namespace fs = std::filesystem;

// Kind numbers, spelled out here rather than taken from kernel_btf.h, so that a wrong value
// there cannot hide behind the same wrong value here.
constexpr std::uint32_t kInt = 1, kPtr = 2, kArray = 3, kStruct = 4, kUnion = 5, kEnum = 6,
                        kFwd = 7, kTypedef = 8, kVolatile = 9, kConst = 10, kRestrict = 11,
                        kFunc = 12, kFuncProto = 13, kVar = 14, kDatasec = 15, kFloat = 16,
                        kDeclTag = 17, kTypeTag = 18, kEnum64 = 19;

void AppendWord(std::string* bytes, std::uint32_t value) {
  char raw[4];
  std::memcpy(raw, &value, 4);
  bytes->append(raw, 4);
}

void PutWord(std::string* bytes, std::size_t offset, std::uint32_t value) {
  std::memcpy(bytes->data() + offset, &value, 4);
}

// BtfBuilder writes a little-endian BTF blob type by type, as pahole lays out a vmlinux's.
class BtfBuilder {
 public:
  struct Member {
    std::string name;  // "" for an anonymous member
    std::uint32_t type = 0;
    std::uint32_t bit_offset = 0;
    std::uint32_t bitfield_bits = 0;  // non-zero: the aggregate gets kind_flag
  };
  struct SectionVariable {
    std::uint32_t var = 0;
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
  };

  std::uint32_t Name(std::string_view name) {
    if (name.empty()) return 0;
    auto offset = static_cast<std::uint32_t>(strings_.size());
    strings_.append(name);
    strings_.push_back('\0');
    return offset;
  }

  // Type appends a record header and returns its id; the kind's data follows with Word().
  std::uint32_t Type(std::uint32_t kind, std::string_view name, std::uint32_t size_or_type,
                     std::uint32_t vlen = 0, bool kind_flag = false) {
    AppendWord(&types_, Name(name));
    AppendWord(&types_, (kind_flag ? 1U << 31 : 0U) | (kind << 24) | vlen);
    AppendWord(&types_, size_or_type);
    return ++count_;
  }
  void Word(std::uint32_t value) { AppendWord(&types_, value); }

  std::uint32_t Int(std::string_view name, std::uint32_t size, bool is_signed = true,
                    std::uint32_t bits = 0, std::uint32_t bit_offset = 0) {
    std::uint32_t id = Type(kInt, name, size);
    Word((is_signed ? 1U << 24 : 0U) | (bit_offset << 16) | (bits == 0 ? size * 8 : bits));
    return id;
  }
  std::uint32_t Pointer(std::uint32_t target) { return Type(kPtr, "", target); }
  std::uint32_t Typedef(std::string_view name, std::uint32_t target) {
    return Type(kTypedef, name, target);
  }
  std::uint32_t Array(std::uint32_t element, std::uint32_t index, std::uint32_t count) {
    std::uint32_t id = Type(kArray, "", 0);
    Word(element);
    Word(index);
    Word(count);
    return id;
  }
  std::uint32_t Aggregate(std::uint32_t kind, std::string_view name, std::uint32_t size,
                          const std::vector<Member>& members) {
    bool kind_flag = false;
    for (const Member& member : members) kind_flag = kind_flag || member.bitfield_bits != 0;
    std::uint32_t id =
        Type(kind, name, size, static_cast<std::uint32_t>(members.size()), kind_flag);
    for (const Member& member : members) {
      Word(Name(member.name));
      Word(member.type);
      Word(kind_flag ? (member.bitfield_bits << 24) | member.bit_offset : member.bit_offset);
    }
    return id;
  }
  std::uint32_t Struct(std::string_view name, std::uint32_t size,
                       const std::vector<Member>& members) {
    return Aggregate(kStruct, name, size, members);
  }
  std::uint32_t Union(std::string_view name, std::uint32_t size,
                      const std::vector<Member>& members) {
    return Aggregate(kUnion, name, size, members);
  }
  std::uint32_t Var(std::string_view name, std::uint32_t type) {
    std::uint32_t id = Type(kVar, name, type);
    Word(1);  // global
    return id;
  }
  std::uint32_t Datasec(std::string_view name, std::uint32_t size,
                        const std::vector<SectionVariable>& variables) {
    std::uint32_t id = Type(kDatasec, name, size, static_cast<std::uint32_t>(variables.size()));
    for (const SectionVariable& variable : variables) {
      Word(variable.var);
      Word(variable.offset);
      Word(variable.size);
    }
    return id;
  }

  // Build returns header + types + strings (type_off 0, str_off right after the types).
  std::string Build() const {
    std::string blob;
    blob += '\x9f';
    blob += '\xeb';
    blob += '\x01';  // version
    blob += '\x00';  // flags
    AppendWord(&blob, 24);
    AppendWord(&blob, 0);
    AppendWord(&blob, static_cast<std::uint32_t>(types_.size()));
    AppendWord(&blob, static_cast<std::uint32_t>(types_.size()));
    AppendWord(&blob, static_cast<std::uint32_t>(strings_.size()));
    return blob + types_ + strings_;
  }

  std::uint32_t count() const { return count_; }

 private:
  std::string types_;
  std::string strings_ = std::string(1, '\0');
  std::uint32_t count_ = 0;
};

// Where the synthetic kernels put things (the values of Debian's 6.1 kernel, for familiarity).
constexpr std::uint32_t kPidOffset = 0x970;
constexpr std::uint32_t kCommOffset = 0xba0;
constexpr std::uint32_t kCurrentTaskOffset = 0x1fb80;
constexpr std::uint32_t kPcpuHotOffset = 0x351c0;
constexpr std::uint32_t kPerCpuSize = 0x39000;

enum class CurrentTaskShape { kVariable, kPcpuHotMember };

struct KernelTypes {
  std::uint32_t int_type = 0;
  std::uint32_t char_type = 0;
  std::uint32_t long_type = 0;
  std::uint32_t index_type = 0;
  std::uint32_t pid_t_type = 0;
  std::uint32_t task_pointer = 0;
};

// AddEveryOtherKind adds one record of each kind the layout never uses, so that a wrong record
// size for any kind shifts every later type id and breaks the lookups.
void AddEveryOtherKind(BtfBuilder* btf, std::uint32_t int_type) {
  std::uint32_t enum_type = btf->Type(kEnum, "pid_type", 4, 2);
  btf->Word(btf->Name("PIDTYPE_PID"));
  btf->Word(0);
  btf->Word(btf->Name("PIDTYPE_TGID"));
  btf->Word(1);
  btf->Type(kFwd, "mm_struct", 0);
  btf->Type(kVolatile, "", int_type);
  std::uint32_t pointer = btf->Pointer(int_type);
  btf->Type(kRestrict, "", pointer);
  std::uint32_t prototype = btf->Type(kFuncProto, "", int_type, 2);
  btf->Word(btf->Name("pid"));
  btf->Word(int_type);
  btf->Word(btf->Name("type"));
  btf->Word(enum_type);
  std::uint32_t function = btf->Type(kFunc, "pid_nr_ns", prototype, 1);
  btf->Type(kFloat, "double", 8);
  btf->Type(kDeclTag, "kfunc", function);
  btf->Word(0xffffffff);  // component index -1: the function itself
  btf->Type(kTypeTag, "rcu", int_type);
  btf->Type(kConst, "", int_type);
  btf->Union("", 4, {{"value", int_type, 0, 0}});
  btf->Type(kEnum64, "u64_flags", 8, 1);
  btf->Word(btf->Name("FLAG_HIGH"));
  btf->Word(0);
  btf->Word(1);
}

// AddTask adds struct task_struct (pahole's shape: kind_flag, since it has bitfields) with pid,
// tgid and comm at the Debian 6.1 offsets.
KernelTypes AddTask(BtfBuilder* btf) {
  KernelTypes types;
  types.int_type = btf->Int("int", 4);
  AddEveryOtherKind(btf, types.int_type);
  types.char_type = btf->Int("char", 1, true);
  types.long_type = btf->Int("long", 8);
  types.index_type = btf->Int("__ARRAY_SIZE_TYPE__", 4, false);
  std::uint32_t kernel_pid = btf->Typedef("__kernel_pid_t", types.int_type);
  types.pid_t_type = btf->Typedef("pid_t", kernel_pid);
  std::uint32_t comm = btf->Array(types.char_type, types.index_type, 16);
  // A pointer to a struct declared later, as in real BTF.
  types.task_pointer = btf->Pointer(btf->count() + 2);
  btf->Struct("task_struct", 0x2580,
              {{"__state", types.int_type, 0, 0},
               {"sched_reset_on_fork", types.int_type, 0x900 * 8, 1},
               {"pid", types.pid_t_type, kPidOffset * 8, 0},
               {"tgid", types.pid_t_type, (kPidOffset + 4) * 8, 0},
               {"comm", comm, kCommOffset * 8, 0}});
  return types;
}

// SyntheticKernelBtf is a kernel-like BTF blob with the current-task pointer in either shape.
std::string SyntheticKernelBtf(CurrentTaskShape shape) {
  BtfBuilder btf;
  KernelTypes types = AddTask(&btf);
  std::uint32_t cpu_number = btf.Var("cpu_number", types.int_type);
  if (shape == CurrentTaskShape::kVariable) {
    std::uint32_t current_task = btf.Var("current_task", types.task_pointer);
    btf.Datasec(".data..percpu", kPerCpuSize,
                {{cpu_number, 0x1000, 4}, {current_task, kCurrentTaskOffset, 8}});
  } else {
    // struct pcpu_hot { long before; union { struct { int preempt_count;
    //   struct task_struct *current_task; }; u8 pad[64]; }; }  (before: to make offsets add up)
    std::uint32_t u8 = btf.Int("unsigned char", 1, false);
    std::uint32_t pad = btf.Array(u8, types.index_type, 64);
    std::uint32_t inner = btf.Struct(
        "", 16,
        {{"preempt_count", types.int_type, 0, 0}, {"current_task", types.task_pointer, 64, 0}});
    std::uint32_t both = btf.Union("", 64, {{"", inner, 0, 0}, {"pad", pad, 0, 0}});
    std::uint32_t pcpu_hot =
        btf.Struct("pcpu_hot", 72, {{"before", types.long_type, 0, 0}, {"", both, 64, 0}});
    std::uint32_t variable = btf.Var("pcpu_hot", pcpu_hot);
    btf.Datasec(".data..percpu", kPerCpuSize,
                {{cpu_number, 0x1000, 4}, {variable, kPcpuHotOffset, 72}});
  }
  return btf.Build();
}

std::string Describe(const Status& status) {
  return status.ToString();
}

// ---------------------------------------------------------------------------------------------
// The two shapes of the current-task pointer, and member lookups.

TEST(KernelBtfTest, FindsTheCurrentTaskVariableOfLinux61) {
  KernelTaskLayout layout;
  Status status = formats::FindKernelTaskLayoutInBtf(
      SyntheticKernelBtf(CurrentTaskShape::kVariable), 0, &layout);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(layout.current_task_percpu_offset, kCurrentTaskOffset);
  EXPECT_EQ(layout.task_pid_offset, kPidOffset);
  EXPECT_EQ(layout.task_tgid_offset, kPidOffset + 4);
  EXPECT_EQ(layout.task_comm_offset, kCommOffset);
}

TEST(KernelBtfTest, FindsCurrentTaskInsidePcpuHotThroughAnonymousMembers) {
  KernelTaskLayout layout;
  Status status = formats::FindKernelTaskLayoutInBtf(
      SyntheticKernelBtf(CurrentTaskShape::kPcpuHotMember), 0, &layout);
  ASSERT_TRUE(status.ok()) << Describe(status);
  // pcpu_hot + 8 (the anonymous union after `before`) + 8 (after preempt_count).
  EXPECT_EQ(layout.current_task_percpu_offset, kPcpuHotOffset + 16U);
  EXPECT_EQ(layout.task_pid_offset, kPidOffset);
  EXPECT_EQ(layout.task_comm_offset, kCommOffset);
}

TEST(KernelBtfTest, AddsTheLinkAddressOfAPerCpuSectionThatIsNotZeroBased) {
  KernelTaskLayout layout;
  ASSERT_TRUE(formats::FindKernelTaskLayoutInBtf(SyntheticKernelBtf(CurrentTaskShape::kVariable),
                                                 0xffffffff83a00000ULL, &layout)
                  .ok());
  EXPECT_EQ(layout.current_task_percpu_offset, 0xffffffff83a00000ULL + kCurrentTaskOffset);
}

TEST(KernelBtfTest, WalksEveryKindAndSpellsTypesWithoutTypedefs) {
  formats::KernelBtf btf;
  ASSERT_TRUE(
      formats::KernelBtf::Parse(SyntheticKernelBtf(CurrentTaskShape::kVariable), &btf).ok());
  formats::BtfMember member;
  ASSERT_TRUE(btf.FindMember("task_struct", "pid", &member).ok());
  EXPECT_EQ(btf.Name(member.type_id), "pid_t");
  EXPECT_EQ(btf.TypeSpelling(member.type_id), "int");
  ASSERT_TRUE(btf.FindMember("task_struct", "comm", &member).ok());
  EXPECT_EQ(btf.TypeSpelling(member.type_id), "char[16]");
  formats::BtfVariable variable;
  ASSERT_TRUE(btf.FindPerCpuVariable("current_task", &variable).ok());
  EXPECT_EQ(btf.TypeSpelling(variable.type_id), "struct task_struct *");
  EXPECT_EQ(variable.size, 8U);
  ASSERT_TRUE(btf.FindPerCpuVariable("cpu_number", &variable).ok());
  EXPECT_EQ(variable.section_offset, 0x1000U);
  EXPECT_EQ(btf.TypeSpelling(0), "void");
  // One record of each of the 19 kinds was read: their names are where the builder put them.
  std::vector<std::string> kinds;
  for (std::uint32_t id = 1; id <= btf.type_count(); ++id) {
    kinds.push_back(formats::BtfKindName(static_cast<std::uint32_t>(btf.Type(id)->kind)));
  }
  for (std::uint32_t kind = 1; kind <= 19; ++kind) {
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), formats::BtfKindName(kind)), kinds.end())
        << formats::BtfKindName(kind);
  }
}

TEST(KernelBtfTest, FindsMembersThroughTypedefsAndQualifiedAnonymousMembers) {
  BtfBuilder builder;
  std::uint32_t int_type = builder.Int("int", 4);
  // typedef struct { int counter; } atomic_t;
  std::uint32_t counter = builder.Struct("", 4, {{"counter", int_type, 0, 0}});
  std::uint32_t atomic = builder.Typedef("atomic_t", counter);
  // struct refs { int first; const volatile_t <anonymous struct> { atomic_t refcount; }; }
  std::uint32_t holder = builder.Struct("", 4, {{"refcount", atomic, 0, 0}});
  std::uint32_t qualified = builder.Type(kConst, "", builder.Typedef("holder_t", holder));
  builder.Struct("refs", 8, {{"first", int_type, 0, 0}, {"", qualified, 32, 0}});
  formats::KernelBtf btf;
  ASSERT_TRUE(formats::KernelBtf::Parse(builder.Build(), &btf).ok());
  formats::BtfMember member;
  ASSERT_TRUE(btf.FindMember("atomic_t", "counter", &member).ok());
  EXPECT_EQ(member.byte_offset, 0U);
  ASSERT_TRUE(btf.FindMember("refs", "refcount", &member).ok());
  EXPECT_EQ(member.byte_offset, 4U);
  EXPECT_EQ(btf.TypeSpelling(member.type_id), "struct <anonymous>");
  ASSERT_TRUE(btf.FindMemberOfType(qualified, "refcount", &member).ok());
  EXPECT_EQ(btf.FindMemberOfType(int_type, "refcount", &member).code(),
            Status::Code::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Missing and unexpected fields.

struct LayoutCase {
  const char* name;
  std::function<std::string()> blob;
  Status::Code code;
  const char* message;  // a part of the error's message
};

void PrintTo(const LayoutCase& param, std::ostream* out) {
  *out << param.name;
}

// A task_struct-only BTF, to which each case adds or changes one thing.
std::string TaskBtf(const std::function<void(BtfBuilder*, const KernelTypes&)>& change) {
  BtfBuilder btf;
  KernelTypes types = AddTask(&btf);
  change(&btf, types);
  return btf.Build();
}

// TaskWithPid is a task_struct with a good comm and tgid and a pid of pid_int_bits (0: a plain
// int) at bit pid_bit_offset, a bitfield of pid_bitfield_bits (0: none).
std::string TaskWithPid(std::uint32_t pid_int_bits, std::uint32_t pid_bit_offset,
                        std::uint32_t pid_bitfield_bits) {
  BtfBuilder btf;
  std::uint32_t int_type = btf.Int("int", 4);
  std::uint32_t pid_type = pid_int_bits == 0 ? int_type : btf.Int("int", 4, true, pid_int_bits);
  std::uint32_t comm = btf.Array(btf.Int("char", 1), int_type, 16);
  btf.Struct("task_struct", 64,
             {{"comm", comm, 0, 0},
              {"pid", pid_type, 128 + pid_bit_offset, pid_bitfield_bits},
              {"tgid", int_type, 192, 0}});
  return btf.Build();
}

const LayoutCase kLayoutCases[] = {
    {"NoStructTaskStruct",
     [] {
       BtfBuilder btf;
       btf.Int("int", 4);
       return btf.Build();
     },
     Status::Code::kNotFound, "no struct or union named task_struct"},
    {"NoMemberComm",
     [] {
       BtfBuilder btf;
       std::uint32_t int_type = btf.Int("int", 4);
       btf.Struct("task_struct", 8, {{"pid", int_type, 0, 0}, {"tgid", int_type, 32, 0}});
       return btf.Build();
     },
     Status::Code::kNotFound, "struct task_struct has no member comm"},
    {"NoPerCpuDatasec", [] { return TaskBtf([](BtfBuilder*, const KernelTypes&) {}); },
     Status::Code::kNotFound, "no .data..percpu datasec"},
    {"NeitherCurrentTaskNorPcpuHot",
     [] {
       return TaskBtf([](BtfBuilder* btf, const KernelTypes& types) {
         std::uint32_t other = btf->Var("cpu_number", types.int_type);
         btf->Datasec(".data..percpu", kPerCpuSize, {{other, 0x1000, 4}});
       });
     },
     Status::Code::kNotFound, "neither the per-CPU variable current_task"},
    {"PcpuHotWithoutCurrentTask",
     [] {
       return TaskBtf([](BtfBuilder* btf, const KernelTypes& types) {
         std::uint32_t hot = btf->Struct("pcpu_hot", 8, {{"cpu_number", types.int_type, 0, 0}});
         std::uint32_t variable = btf->Var("pcpu_hot", hot);
         btf->Datasec(".data..percpu", kPerCpuSize, {{variable, kPcpuHotOffset, 8}});
       });
     },
     Status::Code::kNotFound, "struct pcpu_hot has no member current_task"},
    {"CurrentTaskOfTheWrongType",
     [] {
       return TaskBtf([](BtfBuilder* btf, const KernelTypes& types) {
         std::uint32_t variable = btf->Var("current_task", types.long_type);
         btf->Datasec(".data..percpu", kPerCpuSize, {{variable, kCurrentTaskOffset, 8}});
       });
     },
     Status::Code::kInvalidArgument,
     "per-CPU variable current_task is long, expected struct task_struct *"},
    {"PidOfTheWrongType",
     [] {
       BtfBuilder btf;
       std::uint32_t long_type = btf.Int("long", 8);
       std::uint32_t char_type = btf.Int("char", 1);
       std::uint32_t comm = btf.Array(char_type, long_type, 16);
       btf.Struct("task_struct", 64,
                  {{"pid", long_type, 0, 0}, {"tgid", long_type, 64, 0}, {"comm", comm, 128, 0}});
       return btf.Build();
     },
     Status::Code::kInvalidArgument, "task_struct.pid is long, expected int"},
    {"CommOfAnotherLength",
     [] {
       BtfBuilder btf;
       std::uint32_t int_type = btf.Int("int", 4);
       std::uint32_t char_type = btf.Int("char", 1);
       std::uint32_t comm = btf.Array(char_type, int_type, 64);
       btf.Struct("task_struct", 64, {{"comm", comm, 0, 0}});
       return btf.Build();
     },
     Status::Code::kInvalidArgument, "task_struct.comm is char[64], expected char[16]"},
    {"PidAsABitfieldWithKindFlag", [] { return TaskWithPid(0, 0, 31); },
     Status::Code::kNotSupported, "member pid of struct task_struct is a 31-bit bitfield"},
    {"PidAsABitfieldIntWithoutKindFlag", [] { return TaskWithPid(20, 0, 0); },
     Status::Code::kNotSupported, "member pid of struct task_struct is a 20-bit bitfield"},
    {"PidNotOnAByteBoundary", [] { return TaskWithPid(0, 3, 0); }, Status::Code::kNotSupported,
     "member pid of struct task_struct is not byte-aligned (bit 131)"},
    {"TwoTaskStructsThatDisagree",
     [] {
       return TaskBtf([](BtfBuilder* btf, const KernelTypes& types) {
         btf->Struct("task_struct", 8, {{"pid", types.pid_t_type, 0, 0}});
       });
     },
     Status::Code::kInvalidArgument, "several types named task_struct"},
    {"VariablePastItsSection",
     [] {
       return TaskBtf([](BtfBuilder* btf, const KernelTypes& types) {
         std::uint32_t variable = btf->Var("current_task", types.task_pointer);
         btf->Datasec(".data..percpu", 0x1000, {{variable, 0xffc, 8}});
       });
     },
     Status::Code::kInvalidArgument, "lies past the section's 4096 bytes"},
    {"DatasecEntryThatIsNotAVar",
     [] {
       return TaskBtf([](BtfBuilder* btf, const KernelTypes& types) {
         btf->Datasec(".data..percpu", kPerCpuSize, {{types.int_type, 0, 4}});
       });
     },
     Status::Code::kInvalidArgument, "entry 0 is type 1, not a var"},
};

class KernelTaskLayoutErrorTest : public testing::TestWithParam<LayoutCase> {};

TEST_P(KernelTaskLayoutErrorTest, NamesWhatIsMissingOrWrong) {
  const LayoutCase& param = GetParam();
  KernelTaskLayout layout;
  layout.task_pid_offset = 12345;
  Status status = formats::FindKernelTaskLayoutInBtf(param.blob(), 0, &layout);
  EXPECT_EQ(status.code(), param.code) << Describe(status);
  EXPECT_NE(status.message().find(param.message), std::string::npos) << Describe(status);
  EXPECT_EQ(layout.task_pid_offset, 12345U) << "a failed lookup must leave *layout alone";
}

INSTANTIATE_TEST_SUITE_P(Cases, KernelTaskLayoutErrorTest, testing::ValuesIn(kLayoutCases),
                         [](const testing::TestParamInfo<LayoutCase>& info) {
                           return std::string(info.param.name);
                         });

// ---------------------------------------------------------------------------------------------
// Corrupt and truncated blobs.

struct CorruptCase {
  const char* name;
  std::function<std::string()> blob;
  Status::Code code;
  const char* message;
};

void PrintTo(const CorruptCase& param, std::ostream* out) {
  *out << param.name;
}

std::string GoodBlob() {
  return SyntheticKernelBtf(CurrentTaskShape::kVariable);
}

// Header fields of a Build() blob.
constexpr std::size_t kTypeLenAt = 12;
constexpr std::size_t kStrOffAt = 16;
constexpr std::size_t kStrLenAt = 20;

std::uint32_t WordAt(const std::string& bytes, std::size_t offset) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data() + offset, 4);
  return value;
}

// GoodBlobWithWord and GoodBlobPlusWord change one header word of GoodBlob().
std::string GoodBlobWithWord(std::size_t offset, std::uint32_t value) {
  std::string blob = GoodBlob();
  PutWord(&blob, offset, value);
  return blob;
}

std::string GoodBlobPlusWord(std::size_t offset, std::uint32_t delta) {
  std::string blob = GoodBlob();
  PutWord(&blob, offset, WordAt(blob, offset) + delta);
  return blob;
}

// WithTrailingType builds a blob whose last record is written by add.
std::string WithTrailingType(const std::function<void(BtfBuilder*)>& add) {
  BtfBuilder btf;
  btf.Int("int", 4);
  add(&btf);
  return btf.Build();
}

// NestedAnonymousMembers is task_struct with `width` anonymous members of one struct, which has
// `width` anonymous members of the next, `levels` deep: width^levels paths to search.
std::string NestedAnonymousMembers(std::uint32_t levels, std::uint32_t width) {
  BtfBuilder btf;
  std::uint32_t int_type = btf.Int("int", 4);
  std::uint32_t inner = btf.Struct("", 4, {{"leaf", int_type, 0, 0}});
  for (std::uint32_t level = 0; level < levels; ++level) {
    std::vector<BtfBuilder::Member> members(width, {"", inner, 0, 0});
    inner = btf.Struct(level + 1 == levels ? "task_struct" : "", 4, members);
  }
  return btf.Build();
}

const CorruptCase kCorruptCases[] = {
    {"Empty", [] { return std::string(); }, Status::Code::kInvalidArgument, "header truncated"},
    {"BadMagic", [] { return GoodBlobWithWord(0, 0x0001eb78); }, Status::Code::kInvalidArgument,
     "not BTF: magic"},
    {"BigEndian", [] { return GoodBlobWithWord(0, 0x00019feb); }, Status::Code::kNotSupported,
     "big-endian"},
    {"VersionTwo", [] { return GoodBlobWithWord(0, 0x0002eb9f); }, Status::Code::kNotSupported,
     "BTF version 2"},
    {"TruncatedHeader", [] { return GoodBlob().substr(0, 20); }, Status::Code::kInvalidArgument,
     "header truncated: 20 bytes"},
    {"HeaderLengthPastTheEnd", [] { return GoodBlobWithWord(4, 1 << 20); },
     Status::Code::kInvalidArgument, "header truncated: its length is 1048576"},
    {"HeaderLengthTooShort", [] { return GoodBlobWithWord(4, 16); }, Status::Code::kInvalidArgument,
     "header length 16 is shorter"},
    {"TypeSectionPastTheEnd", [] { return GoodBlobPlusWord(kTypeLenAt, 0x1000); },
     Status::Code::kInvalidArgument, "type section"},
    {"StringSectionPastTheEnd", [] { return GoodBlobPlusWord(kStrLenAt, 1); },
     Status::Code::kInvalidArgument, "string section"},
    {"TruncatedBlob", [] { return GoodBlob().substr(0, 200); }, Status::Code::kInvalidArgument,
     "lies past the end of the 200-byte blob"},
    {"SectionsOverlap", [] { return GoodBlobWithWord(kStrOffAt, 0); },
     Status::Code::kInvalidArgument, "overlap"},
    {"StringSectionWithoutFinalNul",
     [] {
       std::string blob = GoodBlob();
       blob.back() = 'x';
       return blob;
     },
     Status::Code::kInvalidArgument, "start and end with a NUL"},
    {"TypeNameOffsetPastTheStrings",
     [] {
       return WithTrailingType([](BtfBuilder* btf) {
         btf->Word(0x00ffff00);  // name_off
         btf->Word(kPtr << 24);
         btf->Word(1);
       });
     },
     Status::Code::kInvalidArgument, "BTF type 2 (ptr) names string offset 16776960"},
    {"MemberNameOffsetPastTheStrings",
     [] {
       return WithTrailingType([](BtfBuilder* btf) {
         btf->Type(kStruct, "s", 4, 1);
         btf->Word(5000);
         btf->Word(1);
         btf->Word(0);
       });
     },
     Status::Code::kInvalidArgument, "BTF type 2 (struct) names string offset 5000"},
    {"VlenOverflowingTheTypeSection",
     [] {
       return WithTrailingType([](BtfBuilder* btf) {
         btf->Type(kStruct, "s", 4, 100);  // 100 members announced, one written
         btf->Word(0);
         btf->Word(1);
         btf->Word(0);
       });
     },
     Status::Code::kInvalidArgument, "BTF type 2 (struct) with vlen 100 runs 1188 bytes past"},
    {"FixedDataOverflowingTheTypeSection",
     [] { return WithTrailingType([](BtfBuilder* btf) { btf->Type(kArray, "", 0); }); },
     Status::Code::kInvalidArgument, "BTF type 2 (array) with vlen 0 runs 12 bytes past"},
    {"TruncatedTypeRecord", [] { return WithTrailingType([](BtfBuilder* btf) { btf->Word(0); }); },
     Status::Code::kInvalidArgument, "BTF type 2 truncated: 4 bytes left"},
    {"UnknownKind", [] { return WithTrailingType([](BtfBuilder* btf) { btf->Type(25, "", 0); }); },
     Status::Code::kInvalidArgument, "BTF type 2 has unknown kind 25"},
    {"KindZero", [] { return WithTrailingType([](BtfBuilder* btf) { btf->Type(0, "", 0); }); },
     Status::Code::kInvalidArgument, "unknown kind 0"},
    {"VlenOnAKindWithoutEntries",
     [] { return WithTrailingType([](BtfBuilder* btf) { btf->Type(kPtr, "", 1, 3); }); },
     Status::Code::kInvalidArgument, "BTF type 2 (ptr) has vlen 3"},
    {"ReferenceToAMissingType",
     [] { return WithTrailingType([](BtfBuilder* btf) { btf->Pointer(999); }); },
     Status::Code::kInvalidArgument, "BTF type 2 (ptr) refers to type 999; the last type is 2"},
    {"MemberOfAMissingType",
     [] {
       return WithTrailingType([](BtfBuilder* btf) {
         btf->Struct("task_struct", 4, {{"pid", 77, 0, 0}});
       });
     },
     Status::Code::kInvalidArgument, "BTF type 2 (struct) refers to type 77"},
    {"TypedefLoop",
     [] {
       return WithTrailingType([](BtfBuilder* btf) {
         std::uint32_t loop = btf->Typedef("a", 3);
         btf->Typedef("b", loop);
         btf->Struct("task_struct", 4, {{"", loop, 0, 0}});
       });
     },
     Status::Code::kInvalidArgument, "chained more than 32 deep"},
    {"AnonymousMembersNestedTooDeep", [] { return NestedAnonymousMembers(40, 1); },
     Status::Code::kInvalidArgument, "anonymous members nested more than 32 deep"},
    {"AnonymousMembersThatMultiply", [] { return NestedAnonymousMembers(25, 2); },
     Status::Code::kInvalidArgument, "examined more than 1048576 members"},
};

class KernelBtfCorruptTest : public testing::TestWithParam<CorruptCase> {};

TEST_P(KernelBtfCorruptTest, GivesTheSpecificError) {
  const CorruptCase& param = GetParam();
  KernelTaskLayout layout;
  Status status = formats::FindKernelTaskLayoutInBtf(param.blob(), 0, &layout);
  EXPECT_EQ(status.code(), param.code) << Describe(status);
  EXPECT_NE(status.message().find(param.message), std::string::npos) << Describe(status);
}

INSTANTIATE_TEST_SUITE_P(Cases, KernelBtfCorruptTest, testing::ValuesIn(kCorruptCases),
                         [](const testing::TestParamInfo<CorruptCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(KernelBtfTest, SurvivesEveryTruncationAndEveryByteFlipOfAGoodBlob) {
  std::string blob = SyntheticKernelBtf(CurrentTaskShape::kPcpuHotMember);
  KernelTaskLayout layout;
  for (std::size_t length = 0; length < blob.size(); ++length) {
    const Status found = formats::FindKernelTaskLayoutInBtf(blob.substr(0, length), 0, &layout);
    EXPECT_EQ(found.code(), Status::Code::kInvalidArgument) << length << ": " << found.ToString();
    EXPECT_EQ(found.message().rfind("BTF", 0), 0U) << length << ": " << found.message();
  }
  for (std::size_t at = 0; at < blob.size(); ++at) {
    std::string flipped = blob;
    flipped[at] = static_cast<char>(~flipped[at]);
    (void)formats::FindKernelTaskLayoutInBtf(flipped, 0,
                                             &layout);  // any status; no crash (ASan: fuzz)
  }
}

// ---------------------------------------------------------------------------------------------
// A synthetic vmlinux around the BTF.

// SyntheticVmlinux is an ELF64 file with sections: null, .BTF (the blob), .data..percpu
// (NOBITS, linked at percpu_address) and the section name table; with_btf false leaves .BTF out.
std::string SyntheticVmlinux(const std::string& btf, std::uint64_t percpu_address,
                             bool with_btf = true) {
  std::string names = std::string("\0", 1) + ".shstrtab" + '\0' + ".data..percpu" + '\0' +
                      (with_btf ? ".BTF" : ".TXT") + '\0';
  std::string elf(64, '\0');
  std::memcpy(elf.data(),
              "\x7f"
              "ELF",
              4);
  elf[4] = 2;
  elf[5] = 1;
  elf[6] = 1;
  std::uint64_t btf_offset = elf.size();
  elf += btf;
  std::uint64_t names_offset = elf.size();
  elf += names;
  while (elf.size() % 8 != 0) elf += '\0';
  std::uint64_t headers_offset = elf.size();
  auto section = [&elf](std::uint32_t name, std::uint32_t type, std::uint64_t address,
                        std::uint64_t offset, std::uint64_t size) {
    std::string header(64, '\0');
    std::memcpy(header.data(), &name, 4);
    std::memcpy(header.data() + 4, &type, 4);
    std::memcpy(header.data() + 16, &address, 8);
    std::memcpy(header.data() + 24, &offset, 8);
    std::memcpy(header.data() + 32, &size, 8);
    elf += header;
  };
  section(0, 0, 0, 0, 0);
  section(1, 3, 0, names_offset, names.size());                             // .shstrtab
  section(11, formats::kElfSectionNoBits, percpu_address, 0, kPerCpuSize);  // .data..percpu
  section(25, 1, 0xffffffff824c1b88ULL, btf_offset, btf.size());            // .BTF (or .TXT)
  std::uint16_t machine = 62, entry_size = 64, count = 4, names_index = 1;
  std::memcpy(elf.data() + 18, &machine, 2);
  std::memcpy(elf.data() + 40, &headers_offset, 8);
  std::memcpy(elf.data() + 58, &entry_size, 2);
  std::memcpy(elf.data() + 60, &count, 2);
  std::memcpy(elf.data() + 62, &names_index, 2);
  return elf;
}

TEST(KernelTaskLayoutElfTest, FindsTheSectionsOfAVmlinuxAndMapsItFromAFile) {
  std::string vmlinux = SyntheticVmlinux(SyntheticKernelBtf(CurrentTaskShape::kVariable), 0);
  formats::ElfSection section;
  ASSERT_TRUE(formats::FindElfSection(vmlinux, ".data..percpu", &section).ok());
  EXPECT_EQ(section.type, formats::kElfSectionNoBits);
  EXPECT_EQ(formats::FindElfSection(vmlinux, ".data", &section).code(), Status::Code::kNotFound);
  KernelTaskLayout layout;
  Status status = formats::FindKernelTaskLayoutInElf(vmlinux, &layout);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(layout.current_task_percpu_offset, kCurrentTaskOffset);

  fs::path path = fs::temp_directory_path() /
                  ("nvlab-kernel-btf-test-" + std::to_string(getpid()) + ".vmlinux");
  ASSERT_TRUE(WriteFileContents(path, vmlinux).ok());
  KernelTaskLayout from_file;
  status = formats::FindKernelTaskLayout(path, &from_file);
  fs::remove(path);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(from_file, layout);
  EXPECT_EQ(formats::FindKernelTaskLayout(path, &from_file).code(), Status::Code::kNotFound);
}

TEST(KernelTaskLayoutElfTest, AddsTheLinkAddressOfThePerCpuSection) {
  std::string vmlinux =
      SyntheticVmlinux(SyntheticKernelBtf(CurrentTaskShape::kVariable), 0xffffffff83a00000ULL);
  KernelTaskLayout layout;
  ASSERT_TRUE(formats::FindKernelTaskLayoutInElf(vmlinux, &layout).ok());
  EXPECT_EQ(layout.current_task_percpu_offset, 0xffffffff83a00000ULL + kCurrentTaskOffset);
}

TEST(KernelTaskLayoutElfTest, SaysWhenTheKernelHasNoBtf) {
  std::string vmlinux =
      SyntheticVmlinux(SyntheticKernelBtf(CurrentTaskShape::kVariable), 0, /*with_btf=*/false);
  KernelTaskLayout layout;
  Status status = formats::FindKernelTaskLayoutInElf(vmlinux, &layout);
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_NE(status.message().find("CONFIG_DEBUG_INFO_BTF"), std::string::npos) << Describe(status);
  EXPECT_EQ(formats::FindKernelTaskLayoutInElf("#!/bin/sh\n", &layout).code(),
            Status::Code::kInvalidArgument);
}

TEST(KernelTaskLayoutElfTest, RefusesSectionHeadersOutsideTheFile) {
  std::string vmlinux = SyntheticVmlinux(SyntheticKernelBtf(CurrentTaskShape::kVariable), 0);
  for (std::size_t length : {std::size_t{64}, vmlinux.size() - 1}) {
    KernelTaskLayout layout;
    EXPECT_EQ(formats::FindKernelTaskLayoutInElf(vmlinux.substr(0, length), &layout).code(),
              Status::Code::kInvalidArgument)
        << length;
  }
  std::string bad_btf = vmlinux;
  std::uint64_t huge = 1ULL << 40;
  std::uint64_t headers = 0;
  std::memcpy(&headers, bad_btf.data() + 40, 8);
  std::size_t btf_size_at = headers + std::size_t{3} * 64 + 32;  // the 4th header's sh_size
  std::memcpy(bad_btf.data() + btf_size_at, &huge, 8);
  KernelTaskLayout layout;
  Status status = formats::FindKernelTaskLayoutInElf(bad_btf, &layout);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find(".BTF outside the file"), std::string::npos) << Describe(status);
}

// ---------------------------------------------------------------------------------------------
// The manifest's kernel_task_layout.

TEST(ManifestKernelTaskLayoutTest, RoundTripsThroughTheManifest) {
  KernelTaskLayout layout;
  layout.current_task_percpu_offset = 0xffffffff8203c1c0ULL;
  layout.task_comm_offset = 2976;
  layout.task_pid_offset = 2416;
  layout.task_tgid_offset = 2420;
  std::string json = KernelTaskLayoutJson(layout);
  EXPECT_EQ(json, R"({"current_task":"0xffffffff8203c1c0","comm":2976,"pid":2416,"tgid":2420})");
  std::string manifest = "{\n\"format\": \"nvlab-image-2\",\n\"kernel_task_layout\": " + json +
                         ",\n\"files\": {}\n}\n";
  std::optional<KernelTaskLayout> read;
  ASSERT_TRUE(ReadManifestKernelTaskLayout(manifest, &read).ok());
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, layout);
}

TEST(ManifestKernelTaskLayoutTest, AnOlderManifestHasNoLayout) {
  std::optional<KernelTaskLayout> read = KernelTaskLayout();
  ASSERT_TRUE(
      ReadManifestKernelTaskLayout("{\n\"format\": \"nvlab-image-1\",\n\"files\": {}\n}\n", &read)
          .ok());
  EXPECT_FALSE(read.has_value());
}

TEST(ManifestKernelTaskLayoutTest, RefusesAMalformedLayout) {
  const std::string shape = "kernel_task_layout must be {";
  const std::pair<const char*, std::string> cases[] = {
      {R"({"current_task": "0x1fb80", "comm": 1, "pid": 2})", shape},
      {R"({"current_task": "1fb80", "comm": 1, "pid": 2, "tgid": 3})",
       "kernel_task_layout.current_task is not \"0x\" and 1 to 16 hex digits: 1fb80"},
      {R"({"current_task": "0x1g", "comm": 1, "pid": 2, "tgid": 3})",
       "kernel_task_layout.current_task is not \"0x\" and 1 to 16 hex digits: 0x1g"},
      {R"({"current_task": "0x", "comm": 1, "pid": 2, "tgid": 3})",
       "kernel_task_layout.current_task is not \"0x\" and 1 to 16 hex digits: 0x"},
      {R"({"current_task": 7, "comm": 1, "pid": 2, "tgid": 3})",
       "kernel_task_layout.current_task is JSON number, not a string"},
      {R"({"current_task": "0x1", "comm": -1, "pid": 2, "tgid": 3})",
       "kernel_task_layout.comm is missing or not an unsigned 32-bit number"},
      {R"({"current_task": "0x1", "comm": 4294967296, "pid": 2, "tgid": 3})",
       "kernel_task_layout.comm is missing or not an unsigned 32-bit number"},
      {R"({"current_task": "0x1", "comm": 1, "pid": 2.5, "tgid": 3})",
       "kernel_task_layout.pid is missing or not an unsigned 32-bit number"},
      {R"({"current_task": "0x1", "comm": 1, "comm": 2, "tgid": 3})", shape},
      {R"({"current_task": "0x1", "comm": 1, "pid": 2, "tid": 3})",
       "kernel_task_layout.tgid is missing"},
      {R"(null)", shape},
  };
  for (const auto& [bad, message] : cases) {
    std::string manifest = std::string(R"({"kernel_task_layout": )") + bad + "}";
    std::optional<KernelTaskLayout> read = KernelTaskLayout();
    Status status = ReadManifestKernelTaskLayout(manifest, &read);
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument) << manifest;
    EXPECT_NE(status.message().find("image manifest: " + message), std::string::npos)
        << manifest << ": " << Describe(status);
    EXPECT_FALSE(read.has_value()) << manifest;
  }
}

TEST(ManifestKernelTaskLayoutTest, RefusesAManifestThatIsNotAJsonObject) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"kernel_task_layout": {"current_task": "0x1", "comm": 1, "pid": 2, "tgid": 3},)",
       "image manifest is not valid JSON: [json.exception.parse_error"},
      {"", "image manifest is not valid JSON"},
      {"[]", "image manifest is JSON array, not an object"},
      {"\"kernel_task_layout\"", "image manifest is JSON string, not an object"},
  };
  for (const auto& [bad, message] : cases) {
    std::optional<KernelTaskLayout> read = KernelTaskLayout();
    Status status = ReadManifestKernelTaskLayout(bad, &read);
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find(message), std::string::npos) << bad << ": " << Describe(status);
    EXPECT_FALSE(read.has_value()) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// The real image's kernel (fixture guest_image: Debian's kernel, built by GuestImage.Build).

TEST(KernelBtfRealImageTest, TheImageRecordsAPlausibleLayoutReadFromItsKernel) {
  GuestImageSpec spec;
  spec.home = NVLAB_TEST_HOME;
  spec.guest_tools_dir = NVLAB_STAGE_GUESTDIR;
  spec.guest_data_dir = fs::path(NVLAB_STAGE_DATADIR) / "guest";
  GuestImage image;
  Status status = EnsureGuestImage(spec, &image);
  ASSERT_TRUE(status.ok()) << Describe(status);

  KernelTaskLayout layout;
  status = formats::FindKernelTaskLayout(image.kernel, &layout);
  ASSERT_TRUE(status.ok()) << Describe(status);
  std::cout << image.kernel_release << ": " << KernelTaskLayoutJson(layout) << "\n";
  ASSERT_TRUE(image.kernel_task_layout.has_value()) << "the manifest has no kernel_task_layout";
  EXPECT_EQ(*image.kernel_task_layout, layout);

  EXPECT_GE(layout.task_comm_offset, 0x500U);
  EXPECT_LE(layout.task_comm_offset, 0x1000U);
  EXPECT_LT(layout.task_pid_offset, layout.task_comm_offset);
  EXPECT_EQ(layout.task_tgid_offset, layout.task_pid_offset + 4);
  // Debian's x86-64 kernels have a zero-based per-CPU area (up to 6.14) of some hundreds of KB;
  // the pointer is 8-byte aligned.
  EXPECT_LT(layout.current_task_percpu_offset, 1U << 20);
  EXPECT_EQ(layout.current_task_percpu_offset % 8, 0U);
}

}  // namespace
}  // namespace nvlab::image
