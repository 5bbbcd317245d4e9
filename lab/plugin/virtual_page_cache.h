// File: lab/plugin/virtual_page_cache.h
//
// VirtualPageCache: for the check guest of crash-state exploration (watch-loads=on), which
// virtual pages a vCPU's recent loads went to: an NVDIMM page (its guest-physical base) or
// elsewhere. Every load of the check guest runs the plugin's callback; asking QEMU for the
// access's physical address (qemu_plugin_get_hwaddr, a lookup in QEMU's TLB) on each of them
// was most of what watching cost. A load whose page the cache knows needs no QEMU call.
//
// Never stale, on the same argument as translation_cache.h: the cache holds what a CPU's TLB
// may hold and is emptied at every TLB invalidation any vCPU executes (INVLPG, INVPCID, MOV to
// CR0/CR3/CR4, ...), before it runs. The guest kernel changes a present translation only with
// such an invalidation; a page mapped later needs none, but only pages a completed access went
// through are kept, and those were present. The key is the virtual page alone (no CR3): a
// switch of address space is a MOV to CR3, which empties the cache; 4 KiB pages, whatever the
// mapping's size (a large page's 4 KiB parts map contiguously).
//
// Policy: per vCPU, direct-mapped slots; an entry carries its whole key and the epoch at which
// its lookup began, so a fill that raced with an invalidation is born stale. Invalidate is O(1)
// (the epoch moves).
//
// Life cycle: one per plugin in watch-loads mode, created empty for up to kMaxVcpus vCPUs
// (others are never cached: their loads always ask QEMU). Thread-safety: a vCPU's slots are
// read and written only from the thread running that vCPU (QEMU calls a vCPU's callbacks on
// its thread); Epoch and Invalidate may be called from any thread.
//
// Which vCPU: under thread=single QEMU 10.0 passes a callback the index of the vCPU that
// translated the block, not of the one running it (nvlab_plugin.cc, "Which vCPU"). Two vCPUs
// running two address spaces at once could then share slots, and one process's page answer
// another's load. Exploration's check guests therefore have one vCPU (crash_state_checker.cc);
// with one, every key is exact.

#ifndef NVLAB_PLUGIN_VIRTUAL_PAGE_CACHE_H_
#define NVLAB_PLUGIN_VIRTUAL_PAGE_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace nvlab::plugin {

class VirtualPageCache {
 public:
  static constexpr unsigned kMaxVcpus = 64;
  static constexpr unsigned kSlotBits = 8;
  static constexpr size_t kSlots = size_t{1} << kSlotBits;
  static constexpr unsigned kPageShift = 12;
  // physical_base of a page that maps no NVDIMM.
  static constexpr uint64_t kNotNvdimm = ~uint64_t{0};

  VirtualPageCache();

  // Epoch is read before asking QEMU about an access, and given to Fill with the answer.
  uint64_t Epoch() const { return epoch_.load(std::memory_order_acquire); }

  // Lookup sets *physical_base to the NVDIMM page vaddr's page maps (or kNotNvdimm) when the
  // cache knows it for this vCPU. Inline: the check guest calls it for nearly every load.
  bool Lookup(unsigned vcpu, uint64_t vaddr, uint64_t* physical_base) const {
    if (vcpu >= kMaxVcpus) return false;
    const uint64_t page = vaddr >> kPageShift;
    const Entry& e = slots_[size_t{vcpu} * kSlots + (page & (kSlots - 1))];
    if (e.epoch != Epoch() || e.virtual_page != page) return false;
    *physical_base = e.physical_base;
    return true;
  }

  // Fill records where vaddr's page went (physical_base: the page's first guest-physical byte,
  // or kNotNvdimm), as of `epoch` (Epoch() before the access was looked up).
  void Fill(unsigned vcpu, uint64_t vaddr, uint64_t physical_base, uint64_t epoch);

  // Invalidate: some vCPU is about to run a TLB invalidation. Drops every entry of every vCPU.
  void Invalidate() { epoch_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  struct Entry {
    uint64_t epoch = 0;  // 0: never filled (the cache's epoch starts at 1).
    uint64_t virtual_page = 0;
    uint64_t physical_base = 0;
  };

  std::unique_ptr<Entry[]> slots_;  // kMaxVcpus * kSlots
  std::atomic<uint64_t> epoch_{1};
};

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_VIRTUAL_PAGE_CACHE_H_
