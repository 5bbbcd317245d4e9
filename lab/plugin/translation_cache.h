// File: lab/plugin/translation_cache.h
//
// TranslationCache: the plugin's software TLB for cache-line flushes. A flush's virtual
// address is translated by a page walk over the guest RAM file (page_walk.h) that needs four
// control registers; a program flushing line after line of the same pages repeats the same
// walk. The cache keeps (address space, virtual page) -> physical page from the walks that went
// through page tables, and answers from CR3 alone.
//
// Never stale (a wrong translation is a wrong verdict). The cache trusts the guest as a CPU's
// TLB does: the guest kernel changes a present translation only with a TLB invalidation
// (INVLPG, INVPCID, MOV to CR3 or CR4, ...) following on at least one CPU, and the plugin calls
// Invalidate for each such instruction any vCPU executes, before it runs
// (x86_decode.h's X86TlbFlush). A shootdown runs the invalidation on every CPU the address space
// is live on; the cache is shared by all vCPUs, so the first of them clears it for all. A flush
// the kernel defers to the next switch to an address space ends in a MOV to CR3, which clears
// it too. What a CPU's TLB may hold beyond that (a stale entry until the invalidation runs) the
// cache may hold too, no longer. Not seen: mode switches without an instruction (an SMI's entry
// into SMM, a nested guest's VM exit); nvlab's guests flush NVDIMM lines from neither.
//
// Policy: every invalidation drops every entry, whatever its kind (O(1): the entries carry an
// epoch). Dropping more than the TLB would is always correct and costs only walks; the kinds
// are counted. Only walks through page tables are kept (with paging off the address is
// physical; a MOV to CR0 turns paging on), and only present translations (a page mapped later
// needs no invalidation on x86, so a miss is never cached).
//
// Keys: the address space is CR3 bits 12..51 (the top-level table). The PCID (bits 0..11, or
// PWT/PCD without PCIDs), bit 63 ("no flush") and the LAM bits say how the TLB is tagged and
// flushed, not what the tables map. The page is the one the walk found: 4 KiB, 2 MiB or 1 GiB,
// so one walk serves a whole large page. Slots are direct-mapped: a collision replaces the
// older entry (a later miss, never a wrong answer: an entry carries its whole key).
//
// CR3 itself: a hit needs the executing CPU's CR3, a register read that costs as much as the
// rest of the lookup. RememberCr3 keeps the value a CPU read until the next invalidation of any
// kind on any vCPU: in long mode CR3 changes only by MOV to CR3 (or RSM), both invalidations,
// and the mode switches above. The caller keys it by a CPU identity it is sure of.
//
// Life cycle: one per plugin, created empty. Thread-safety: none; the plugin uses it under its
// mutex.

#ifndef NVLAB_PLUGIN_TRANSLATION_CACHE_H_
#define NVLAB_PLUGIN_TRANSLATION_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "page_walk.h"
#include "x86_decode.h"

namespace nvlab::plugin {

class TranslationCache {
 public:
  static constexpr unsigned kSlotBits = 10;
  static constexpr size_t kSlots = size_t{1} << kSlotBits;
  // One counter per X86TlbFlush kind (its numeric value).
  static constexpr size_t kFlushKinds = static_cast<size_t>(X86TlbFlush::kRsm) + 1;

  struct Counters {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t fills = 0;
    std::array<uint64_t, kFlushKinds> invalidations = {};
  };

  // AddressSpaceOf returns the part of CR3 that names an address space (bits 12..51).
  static uint64_t AddressSpaceOf(uint64_t cr3);

  // Lookup sets *gpa to vaddr's physical address in the address space of cr3, if cached.
  bool Lookup(uint64_t cr3, uint64_t vaddr, uint64_t* gpa);

  // WalkAndFill is TranslateVirtual (page_walk.h) over `memory` with `regs`, keeping a
  // successful walk through page tables for the address space of regs.cr3.
  WalkResult WalkAndFill(const PagingRegisters& regs, uint64_t vaddr,
                         const PhysicalMemoryReader& memory, uint64_t* gpa);

  // Invalidate: a vCPU is about to run an instruction of kind `flush` (not kNone). Drops every
  // entry.
  void Invalidate(X86TlbFlush flush);

  // RememberedCr3 sets *cr3 to what RememberCr3 kept for `cpu` since the last invalidation.
  bool RememberedCr3(unsigned cpu, uint64_t* cr3) const {
    if (cpu >= remembered_cr3_.size() || remembered_cr3_[cpu].epoch != epoch_) return false;
    *cr3 = remembered_cr3_[cpu].cr3;
    return true;
  }
  void RememberCr3(unsigned cpu, uint64_t cr3) {
    if (cpu < remembered_cr3_.size()) remembered_cr3_[cpu] = {epoch_, cr3};
  }

  const Counters& counters() const { return counters_; }

 private:
  struct Entry {
    uint64_t epoch = 0;  // 0: never filled; valid while equal to the cache's epoch.
    uint64_t address_space = 0;
    uint64_t virtual_page = 0;   // vaddr >> page_shift.
    uint64_t physical_base = 0;  // The page's first physical byte.
    unsigned page_shift = 0;
  };

  static size_t SlotOf(uint64_t address_space, uint64_t virtual_page, unsigned page_shift);

  struct RememberedCr3Entry {
    uint64_t epoch = 0;  // As Entry::epoch.
    uint64_t cr3 = 0;
  };

  std::array<Entry, kSlots> slots_{};
  size_t last_hit_ = 0;  // Slot tried first: a program flushes line after line of one page.
  std::array<RememberedCr3Entry, 256> remembered_cr3_{};  // By CPU id.
  uint64_t epoch_ = 1;
  Counters counters_;
};

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_TRANSLATION_CACHE_H_
