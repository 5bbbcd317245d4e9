// Tests of reading the guest kernel's current task over synthetic page tables and memory.
#include "guest_task_reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>

namespace nvlab::plugin {
namespace {

constexpr uint64_t kPg = 1ULL << 31;
constexpr uint64_t kLma = 1ULL << 10;
constexpr uint64_t kPresent = 0x3;
constexpr uint64_t kLarge = 0x80;

// The kernel's direct map in these tests: virtual kDirectMap + x is physical x, in 2 MiB pages
// for the first 8 MiB.
constexpr uint64_t kDirectMap = 0xffff888000000000ULL;
constexpr uint64_t kKernelCr3 = 0x2000;  // 8 KiB aligned: the user twin is 0x3000.
constexpr uint64_t kUserCr3 = kKernelCr3 | 0x1000;

// GuestMemory: sparse guest-physical bytes, read 8 aligned bytes at a time; unbacked above
// backed_end.
class GuestMemory : public PhysicalMemoryReader {
 public:
  bool Read64(uint64_t gpa, uint64_t* value) const override {
    if (gpa % 8 != 0 || gpa >= backed_end) return false;
    auto it = words_.find(gpa);
    *value = it == words_.end() ? 0 : it->second;
    return true;
  }
  void Write(uint64_t gpa, const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < size; ++i) {
      uint64_t& word = words_[(gpa + i) & ~uint64_t{7}];
      const unsigned shift = 8 * ((gpa + i) & 7);
      word = (word & ~(uint64_t{0xff} << shift)) | (uint64_t{bytes[i]} << shift);
    }
  }
  void Write64(uint64_t gpa, uint64_t value) { Write(gpa, &value, sizeof value); }
  uint64_t backed_end = 0x800000;

 private:
  std::map<uint64_t, uint64_t> words_;
};

uint64_t Index(uint64_t vaddr, int level) {
  return (vaddr >> (12 + 9 * (level - 1))) & 0x1ff;
}

// MapDirectMap builds kernel tables at 0x2000 (PML4), 0x4000 (PDPT), 0x5000 (PD) mapping the
// first 8 MiB of physical memory at kDirectMap; the user twin at 0x3000 maps nothing.
void MapDirectMap(GuestMemory* memory) {
  memory->Write64(kKernelCr3 + Index(kDirectMap, 4) * 8, 0x4000 | kPresent);
  memory->Write64(0x4000 + Index(kDirectMap, 3) * 8, 0x5000 | kPresent);
  for (uint64_t i = 0; i < 4; ++i) {
    memory->Write64(0x5000 + (Index(kDirectMap, 2) + i) * 8, (i << 21) | kPresent | kLarge);
  }
}

const KernelTaskLayout kLayout{/*current_task_offset=*/0x32840, /*comm_offset=*/0x738,
                               /*pid_offset=*/0x590, /*tgid_offset=*/0x594};

// A CPU's per-CPU area at physical 0x200000, a task_struct at physical 0x300000.
constexpr uint64_t kPercpu = kDirectMap + 0x200000;
constexpr uint64_t kTask = kDirectMap + 0x300000;

void PlaceTask(GuestMemory* memory, int32_t pid, int32_t tgid, const char* comm, size_t n) {
  memory->Write64(0x200000 + kLayout.current_task_offset, kTask);
  memory->Write(0x300000 + kLayout.pid_offset, &pid, sizeof pid);
  memory->Write(0x300000 + kLayout.tgid_offset, &tgid, sizeof tgid);
  memory->Write(0x300000 + kLayout.comm_offset, comm, n);
}

// ReadCurrentTask reads kPercpu's current task as the plugin does at a cut: the task's address
// from the per-CPU slot, then the task; nullopt when either read fails.
std::optional<GuestTask> ReadCurrentTask(const PagingRegisters& regs, const GuestMemory& memory) {
  uint64_t task = 0;
  GuestTask t;
  if (!ReadCurrentTaskAddress(kLayout, regs, kPercpu, memory, &task) ||
      !ReadTask(kLayout, regs, task, memory, &t)) {
    return std::nullopt;
  }
  return t;
}

TEST(GuestTaskReaderTest, ReadsTheCurrentTaskOfACpu) {
  GuestMemory memory;
  MapDirectMap(&memory);
  PlaceTask(&memory, 123, 120, "nvlab-litmus\0\0\0", 16);
  const std::optional<GuestTask> t = ReadCurrentTask({kPg, kKernelCr3, 0, kLma}, memory);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->task_address, kTask);
  EXPECT_EQ(t->pid, 123);
  EXPECT_EQ(t->tgid, 120);
  EXPECT_EQ(t->comm, "nvlab-litmus");
}

TEST(GuestTaskReaderTest, UserCr3UnderPageTableIsolationFallsBackToItsKernelTwin) {
  GuestMemory memory;
  MapDirectMap(&memory);
  PlaceTask(&memory, 7, 7, "sh", 3);
  const std::optional<GuestTask> t = ReadCurrentTask({kPg, kUserCr3, 0, kLma}, memory);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->comm, "sh");
  // Without bit 12 there is no twin to try: a CR3 whose tables map nothing fails cleanly.
  EXPECT_FALSE(ReadCurrentTask({kPg, 0x6000, 0, kLma}, memory).has_value());
}

TEST(GuestTaskReaderTest, ACommOfSixteenBytesWithoutNulIsKeptWhole) {
  GuestMemory memory;
  MapDirectMap(&memory);
  PlaceTask(&memory, 1, 1, "\x1b[31mABCDEFGHIJK", 16);
  GuestTask t;
  ASSERT_TRUE(ReadTask(kLayout, {kPg, kKernelCr3, 0, kLma}, kTask, memory, &t));
  EXPECT_EQ(t.comm, std::string("\x1b[31mABCDEFGHIJK", 16));
}

TEST(GuestTaskReaderTest, ReadsAcrossAPageBoundaryAndAtUnalignedAddresses) {
  GuestMemory memory;
  MapDirectMap(&memory);
  const char text[] = "0123456789abcdefXYZ";
  memory.Write(0x200ff7, text, sizeof text);
  char out[sizeof text] = {};
  ASSERT_TRUE(
      ReadVirtual({kPg, kKernelCr3, 0, kLma}, kDirectMap + 0x200ff7, memory, out, sizeof out));
  EXPECT_STREQ(out, text);
}

TEST(GuestTaskReaderTest, UnreadableOrImplausibleDataIsUnknownNotACrash) {
  GuestMemory memory;
  MapDirectMap(&memory);
  const PagingRegisters regs{kPg, kKernelCr3, 0, kLma};
  // A refusal leaves the caller's values alone: the plugin keeps what it knew before.
  constexpr uint64_t kKnownTask = kDirectMap + 0x123000;
  uint64_t task = kKnownTask;
  // A user-half per-CPU base (early boot, or a user GS) is refused before any read.
  EXPECT_FALSE(ReadCurrentTaskAddress(kLayout, regs, 0x7f0000000000ULL, memory, &task));
  // The per-CPU slot holds a user-half value: not a task.
  memory.Write64(0x200000 + kLayout.current_task_offset, 0x1234);
  EXPECT_FALSE(ReadCurrentTaskAddress(kLayout, regs, kPercpu, memory, &task));
  // A per-CPU base plus offset that leaves the kernel half.
  KernelTaskLayout wraps = kLayout;
  wraps.current_task_offset = 0x8000000000000000ULL;
  EXPECT_FALSE(ReadCurrentTaskAddress(wraps, regs, kPercpu, memory, &task));
  EXPECT_EQ(task, kKnownTask);
  // A task pointer past the mapped 8 MiB.
  GuestTask t;
  t.pid = 42;
  t.comm = "known";
  EXPECT_FALSE(ReadTask(kLayout, regs, kDirectMap + 0x900000, memory, &t));
  // Mapped but not backed.
  memory.backed_end = 0x300000;
  EXPECT_FALSE(ReadTask(kLayout, regs, kTask, memory, &t));
  EXPECT_EQ(t.pid, 42);
  EXPECT_EQ(t.comm, "known");
  // An address range that wraps around.
  char byte = 0;
  EXPECT_FALSE(ReadVirtual(regs, ~uint64_t{0}, memory, &byte, 2));
}

}  // namespace
}  // namespace nvlab::plugin
