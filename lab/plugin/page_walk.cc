// page_walk.cc -- TranslateVirtual: the x86-64 long-mode page walk.
#include "page_walk.h"

namespace nvlab::plugin {
namespace {

constexpr uint64_t kCr0Pg = 1ULL << 31;
constexpr uint64_t kCr4La57 = 1ULL << 12;
constexpr uint64_t kEferLma = 1ULL << 10;
constexpr uint64_t kPresent = 1ULL << 0;
constexpr uint64_t kPageSize = 1ULL << 7;
constexpr uint64_t kAddressMask = 0x000FFFFFFFFFF000ULL;  // Bits 12..51 of an entry.

}  // namespace

WalkResult TranslateVirtual(const PagingRegisters& regs, uint64_t vaddr,
                            const PhysicalMemoryReader& memory, uint64_t* gpa, WalkedPage* page) {
  WalkedPage unused;
  if (page == nullptr) page = &unused;
  if (!(regs.cr0 & kCr0Pg)) {
    *gpa = (regs.efer & kEferLma) ? vaddr : (vaddr & 0xFFFFFFFFULL);
    *page = WalkedPage{false, 12};
    return WalkResult::kOk;
  }
  if (!(regs.efer & kEferLma)) return WalkResult::kUnsupportedMode;
  int levels = (regs.cr4 & kCr4La57) ? 5 : 4;
  uint64_t table = regs.cr3 & kAddressMask;
  for (int level = levels; level >= 1; --level) {
    unsigned shift = 12 + 9 * (level - 1);
    uint64_t index = (vaddr >> shift) & 0x1FF;
    uint64_t entry = 0;
    if (!memory.Read64(table + index * 8, &entry)) return WalkResult::kUnreadable;
    if (!(entry & kPresent)) return WalkResult::kNotPresent;
    // A large page at the PDPT (1 GiB) or PD (2 MiB) level ends the walk.
    if ((level == 3 || level == 2) && (entry & kPageSize)) {
      uint64_t page_mask = (1ULL << shift) - 1;
      *gpa = (entry & kAddressMask & ~page_mask) | (vaddr & page_mask);
      *page = WalkedPage{true, shift};
      return WalkResult::kOk;
    }
    table = entry & kAddressMask;
  }
  *gpa = table | (vaddr & 0xFFF);
  *page = WalkedPage{true, 12};
  return WalkResult::kOk;
}

}  // namespace nvlab::plugin
