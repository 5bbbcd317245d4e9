// File: lab/plugin/page_walk.h
//
// Software translation of a guest virtual address to guest-physical, for cache-line flushes
// (TCG gives them no memory callback, and the QEMU 10.0 plugin API has no translation call).
// It reads the guest's page tables from guest-physical memory through a PhysicalMemoryReader,
// which the plugin backs with its own mapping of the file-backed guest RAM.
//
// Modes: paging off (CR0.PG = 0): the address is physical (truncated to 32 bits outside long
// mode). Long mode (EFER.LMA): 4-level, or 5-level when CR4.LA57, with 1 GiB and 2 MiB pages.
// 32-bit paging and legacy PAE are not supported (kUnsupportedMode): nvlab guests are 64-bit.
//
// Thread-safety: pure functions; the reader must be safe for the caller's use.

#ifndef NVLAB_PLUGIN_PAGE_WALK_H_
#define NVLAB_PLUGIN_PAGE_WALK_H_

#include <cstdint>

namespace nvlab::plugin {

// PhysicalMemoryReader reads 8 aligned bytes of guest-physical memory; false if unbacked.
class PhysicalMemoryReader {
 public:
  virtual ~PhysicalMemoryReader() = default;
  virtual bool Read64(uint64_t gpa, uint64_t* value) const = 0;
};

struct PagingRegisters {
  uint64_t cr0 = 0;
  uint64_t cr3 = 0;
  uint64_t cr4 = 0;
  uint64_t efer = 0;
};

enum class WalkResult {
  kOk,
  kNotPresent,       // A table entry on the way is not present.
  kUnreadable,       // A table lies outside the memory the reader knows.
  kUnsupportedMode,  // 32-bit paging or legacy PAE.
};

// WalkedPage: how a successful translation went. paged is false when paging was off (the
// address is physical: no page tables took part); page_shift is log2 of the page that maps the
// address: 12 (4 KiB), 21 (2 MiB) or 30 (1 GiB).
struct WalkedPage {
  bool paged = false;
  unsigned page_shift = 12;
};

// TranslateVirtual walks the tables for vaddr; on kOk *gpa holds the physical address and, if
// page is not null, *page how it was mapped.
WalkResult TranslateVirtual(const PagingRegisters& regs, uint64_t vaddr,
                            const PhysicalMemoryReader& memory, uint64_t* gpa,
                            WalkedPage* page = nullptr);

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_PAGE_WALK_H_
