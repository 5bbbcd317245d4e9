// File: lab/plugin/virtual_page_cache.cc

#include "virtual_page_cache.h"

namespace nvlab::plugin {

VirtualPageCache::VirtualPageCache() : slots_(new Entry[size_t{kMaxVcpus} * kSlots]()) {}

void VirtualPageCache::Fill(unsigned vcpu, uint64_t vaddr, uint64_t physical_base, uint64_t epoch) {
  if (vcpu >= kMaxVcpus) return;
  const uint64_t page = vaddr >> kPageShift;
  Entry& e = slots_[size_t{vcpu} * kSlots + (page & (kSlots - 1))];
  e.epoch = epoch;
  e.virtual_page = page;
  e.physical_base =
      physical_base == kNotNvdimm ? kNotNvdimm : physical_base & ~((uint64_t{1} << kPageShift) - 1);
}

}  // namespace nvlab::plugin
