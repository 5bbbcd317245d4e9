// kernel_btf_fuzzer.cc -- libFuzzer target over the guest kernel's BTF reader (kernel_btf.h).
// An input whose first byte is even is taken as it is, as a BTF blob and as a vmlinux; one whose
// first byte is odd is a list of (offset, byte) patches to a small valid kernel-like blob (both
// shapes of the current-task pointer), which reaches the lookups far sooner than raw bytes.
// Checks, besides ASan/UBSan: a task layout comes only from a blob that parses; every lookup on
// a parsed blob returns (they are bounded); a found member's type is a type of the blob.
//
// Run: build/fuzz/fuzz/lab/kernel_btf_fuzzer -max_total_time=30 CORPUS_DIR
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/formats/kernel_btf.h"

namespace {

namespace formats = nvlab::formats;
using nvlab::KernelTaskLayout;

// The seed's strings and type records (little-endian words; kinds in bits 24-28 of the second).
constexpr char kSeedStrings[] =
    "\0int\0char\0task_struct\0comm\0pid\0tgid\0current_task\0.data..percpu\0pcpu_hot";
const std::vector<std::uint32_t> kSeedTypes = {
    1,  1u << 24,      4,      0x01000020,             // 1: int
    5,  1u << 24,      1,      0x01000008,             // 2: char
    0,  3u << 24,      0,      2,          1,     16,  // 3: char[16]
    0,  2u << 24,      5,                              // 4: struct task_struct *
    10, 4u << 24 | 3,  64,     22,         3,     0,  27, 1,     128, 31, 1, 160,  // 5: task_struct
    36, 14u << 24,     4,      1,                                    // 6: var current_task
    63, 4u << 24 | 1,  8,      36,         4,     0,                 // 7: struct pcpu_hot
    63, 14u << 24,     7,      1,                                    // 8: var pcpu_hot
    49, 15u << 24 | 2, 0x1000, 6,          0x100, 8,  8,  0x200, 8,  // 9: datasec .data..percpu
};

std::string SeedBlob() {
  std::vector<std::uint32_t> header = {0x0001eb9f, 24, 0, 0, 0, sizeof(kSeedStrings)};
  header[3] = static_cast<std::uint32_t>(kSeedTypes.size() * 4);  // type_len
  header[4] = header[3];                                          // str_off
  std::string blob(header.size() * 4 + kSeedTypes.size() * 4, '\0');
  std::memcpy(blob.data(), header.data(), header.size() * 4);
  std::memcpy(blob.data() + header.size() * 4, kSeedTypes.data(), kSeedTypes.size() * 4);
  return blob + std::string(kSeedStrings, sizeof(kSeedStrings));
}

// kSpelledTypes bounds the per-input work on large inputs.
constexpr std::uint32_t kSpelledTypes = 64;

void ExploreParsed(const formats::KernelBtf& btf) {
  for (std::uint32_t id = 0; id <= btf.type_count() + 1 && id < kSpelledTypes; ++id) {
    (void)btf.TypeSpelling(id);
    (void)btf.Name(id);
    formats::BtfMember member;
    if (btf.FindMemberOfType(id, "current_task", &member).ok() && member.type_id != 0 &&
        btf.Type(member.type_id) == nullptr) {
      std::abort();  // a member's type must be a type of the blob (or void)
    }
  }
  for (const char* aggregate : {"task_struct", "pcpu_hot", ""}) {
    for (const char* member_name : {"comm", "pid", "current_task", ""}) {
      formats::BtfMember member;
      (void)btf.FindMember(aggregate, member_name, &member);
    }
  }
  formats::BtfVariable variable;
  (void)btf.FindPerCpuVariable("current_task", &variable);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string seed = SeedBlob();
  std::string input(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1) != 0) {
    input = seed;
    for (std::size_t at = 1; at + 2 < size; at += 3) {
      std::size_t offset = (data[at] | std::size_t{data[at + 1]} << 8) % (seed.size() + 1);
      if (offset == seed.size()) {
        input.resize(data[at + 2] % (seed.size() + 1));  // a truncation
      } else if (offset < input.size()) {
        input[offset] = static_cast<char>(data[at + 2]);
      }
    }
  }
  formats::KernelBtf btf;
  bool parsed = formats::KernelBtf::Parse(input, &btf).ok();
  if (parsed) ExploreParsed(btf);
  KernelTaskLayout layout;
  if (formats::FindKernelTaskLayoutInBtf(input, 0, &layout).ok() && !parsed) {
    std::abort();  // a layout from a blob Parse refused
  }
  (void)formats::FindKernelTaskLayoutInElf(input, &layout);
  return 0;
}
