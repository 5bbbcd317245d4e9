// page_walk_fuzzer.cc -- libFuzzer target over the plugin's software page walk
// (lab/plugin/page_walk.h), which reads page tables the guest writes.
// The input is CR0, CR3, CR4, EFER and the virtual address (8 bytes each, little endian), then
// the guest's physical memory (forged_guest_memory.h).
// Checks, besides ASan/UBSan: every walk returns (no loop over forged tables); reads are 8-byte
// aligned; a translation keeps the address's offset within the page it names, and the page is
// 4K, 2M or 1G; with paging off the address passes through (32 bits outside long mode).
//
// Run: build/fuzz/fuzz/lab/page_walk_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "forged_guest_memory.h"
#include "page_walk.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  (void)std::fprintf(stderr, "%s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nvlab::plugin::WalkResult;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  nvlab::plugin::PagingRegisters regs;
  regs.cr0 = nvlab::fuzz::TakeWord(&input);
  regs.cr3 = nvlab::fuzz::TakeWord(&input);
  regs.cr4 = nvlab::fuzz::TakeWord(&input);
  regs.efer = nvlab::fuzz::TakeWord(&input);
  const uint64_t vaddr = nvlab::fuzz::TakeWord(&input);
  const nvlab::fuzz::ForgedGuestMemory memory(input);
  uint64_t gpa = 0;
  nvlab::plugin::WalkedPage page;
  const WalkResult result = nvlab::plugin::TranslateVirtual(regs, vaddr, memory, &gpa, &page);
  if (result != WalkResult::kOk) return 0;
  if (!page.paged) {
    const bool long_mode = (regs.efer & (1u << 10)) != 0;
    if (gpa != vaddr && gpa != (vaddr & 0xffffffffu)) Fail("paging off changed the address");
    if (!long_mode && gpa != (vaddr & 0xffffffffu)) Fail("paging off kept more than 32 bits");
    return 0;
  }
  if (page.page_shift != 12 && page.page_shift != 21 && page.page_shift != 30) {
    Fail("a page that is not 4K, 2M or 1G");
  }
  const uint64_t in_page = (uint64_t{1} << page.page_shift) - 1;
  if ((gpa & in_page) != (vaddr & in_page)) Fail("the offset within the page changed");
  if (gpa >> 52 != 0) Fail("a physical address beyond 52 bits");
  // The same walk without the page out-parameter agrees.
  uint64_t again = 0;
  if (nvlab::plugin::TranslateVirtual(regs, vaddr, memory, &again) != WalkResult::kOk ||
      again != gpa) {
    Fail("the walk is not deterministic");
  }
  return 0;
}
