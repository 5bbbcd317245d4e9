// translation_cache.cc -- TranslationCache: lookups by page size, fills from walks, epochs.
#include "translation_cache.h"

namespace nvlab::plugin {
namespace {

constexpr uint64_t kAddressSpaceMask = 0x000FFFFFFFFFF000ULL;  // CR3 bits 12..51.
// Page sizes in lookup order: user code mostly maps 4 KiB pages, devdax and the kernel's
// direct map 2 MiB and 1 GiB ones.
constexpr unsigned kPageShifts[] = {12, 21, 30};

}  // namespace

uint64_t TranslationCache::AddressSpaceOf(uint64_t cr3) {
  return cr3 & kAddressSpaceMask;
}

size_t TranslationCache::SlotOf(uint64_t address_space, uint64_t virtual_page,
                                unsigned page_shift) {
  // Fibonacci hashing of the key's parts; neighbouring pages land in different slots.
  uint64_t h = (virtual_page ^ (address_space >> 12) * 0x9E3779B97F4A7C15ULL) + page_shift;
  h *= 0x9E3779B97F4A7C15ULL;
  return static_cast<size_t>(h >> (64 - kSlotBits));
}

bool TranslationCache::Lookup(uint64_t cr3, uint64_t vaddr, uint64_t* gpa) {
  const uint64_t space = AddressSpaceOf(cr3);
  auto matches = [&](const Entry& e, unsigned shift) {
    return e.epoch == epoch_ && e.address_space == space && e.virtual_page == vaddr >> shift &&
           e.page_shift == shift;
  };
  size_t hit = kSlots;
  if (matches(slots_[last_hit_], slots_[last_hit_].page_shift)) {
    hit = last_hit_;
  } else {
    for (unsigned shift : kPageShifts) {
      const size_t slot = SlotOf(space, vaddr >> shift, shift);
      if (matches(slots_[slot], shift)) {
        hit = slot;
        break;
      }
    }
  }
  if (hit != kSlots) {
    const Entry& e = slots_[hit];
    *gpa = e.physical_base | (vaddr & ((uint64_t{1} << e.page_shift) - 1));
    last_hit_ = hit;
    ++counters_.hits;
    return true;
  }
  ++counters_.misses;
  return false;
}

WalkResult TranslationCache::WalkAndFill(const PagingRegisters& regs, uint64_t vaddr,
                                         const PhysicalMemoryReader& memory, uint64_t* gpa) {
  WalkedPage walked;
  const WalkResult result = TranslateVirtual(regs, vaddr, memory, gpa, &walked);
  if (result != WalkResult::kOk || !walked.paged) return result;
  const unsigned shift = walked.page_shift;
  const uint64_t space = AddressSpaceOf(regs.cr3);
  const uint64_t page = vaddr >> shift;
  Entry& e = slots_[SlotOf(space, page, shift)];
  e.epoch = epoch_;
  e.address_space = space;
  e.virtual_page = page;
  e.physical_base = *gpa & ~((uint64_t{1} << shift) - 1);
  e.page_shift = shift;
  ++counters_.fills;
  return result;
}

void TranslationCache::Invalidate(X86TlbFlush flush) {
  ++epoch_;
  const auto kind = static_cast<size_t>(flush);
  if (kind < counters_.invalidations.size()) ++counters_.invalidations[kind];
}

}  // namespace nvlab::plugin
