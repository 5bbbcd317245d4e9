// Tests of the flush translation cache over synthetic page tables: fills from walks, hits that
// read no memory, address spaces and PCID bits, large pages, paging off, collisions, and that
// every TLB-invalidating instruction the decoder knows empties it, the last hit tried first and
// the CR3 each CPU read.
#include "translation_cache.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "page_walk.h"
#include "x86_decode.h"

namespace nvlab::plugin {
namespace {

constexpr uint64_t kPg = 1ULL << 31;
constexpr uint64_t kLma = 1ULL << 10;
constexpr uint64_t kPresentWritable = 0x3;
constexpr uint64_t kLarge = 0x80;
constexpr uint64_t kRoot = 0x1000;  // CR3 of the address space the tests walk.

// FakeMemory: 8-byte words of guest-physical memory (unset words read as not-present entries);
// counts reads, so that a test can tell a cache hit from a walk.
class FakeMemory : public PhysicalMemoryReader {
 public:
  bool Read64(uint64_t gpa, uint64_t* value) const override {
    ++reads;
    auto it = words_.find(gpa);
    *value = it == words_.end() ? 0 : it->second;
    return true;
  }
  void Set(uint64_t table, uint64_t index, uint64_t entry) { words_[table + index * 8] = entry; }
  mutable int reads = 0;

 private:
  std::map<uint64_t, uint64_t> words_;
};

uint64_t Index(uint64_t vaddr, int level) {
  return (vaddr >> (12 + 9 * (level - 1))) & 0x1ff;
}

// Map writes a 4-level path for vaddr through `tables` (the first is the root) ending in leaf.
void Map(FakeMemory* memory, uint64_t vaddr, std::initializer_list<uint64_t> tables,
         uint64_t leaf) {
  int level = 4;
  const uint64_t* table = tables.begin();
  for (; table + 1 != tables.end(); ++table, --level) {
    memory->Set(*table, Index(vaddr, level), *(table + 1) | kPresentWritable);
  }
  memory->Set(*table, Index(vaddr, level), leaf);
}

PagingRegisters Paging(uint64_t cr3) {
  return {kPg, cr3, 0, kLma};
}

// FillTwoSpacesAndALargePage maps the 4 KiB page `small` in two address spaces (kRoot: physical
// 0x200000, 0x9000: 0x300000) and the 2 MiB page `large` in kRoot (through `large_tables`, at
// large_gpa), and walks all three into the cache. False when a walk fails.
bool FillTwoSpacesAndALargePage(FakeMemory* memory, TranslationCache* cache, uint64_t small,
                                uint64_t large, std::initializer_list<uint64_t> large_tables,
                                uint64_t large_gpa) {
  Map(memory, small, {kRoot, 0x2000, 0x3000, 0x4000}, 0x200000ULL | kPresentWritable);
  Map(memory, large, large_tables, large_gpa | kPresentWritable | kLarge);
  Map(memory, small, {0x9000, 0xa000, 0xb000, 0xc000}, 0x300000ULL | kPresentWritable);
  uint64_t gpa = 0;
  return cache->WalkAndFill(Paging(kRoot), small, *memory, &gpa) == WalkResult::kOk &&
         cache->WalkAndFill(Paging(kRoot), large, *memory, &gpa) == WalkResult::kOk &&
         cache->WalkAndFill(Paging(0x9000), small, *memory, &gpa) == WalkResult::kOk;
}

TEST(TranslationCacheTest, AWalkFillsAndTheNextLookupHitsWithoutReadingMemory) {
  FakeMemory memory;
  const uint64_t vaddr = 0x00007f0000003040ULL;
  Map(&memory, vaddr, {kRoot, 0x2000, 0x3000, 0x4000}, 0x100045000ULL | kPresentWritable);
  TranslationCache cache;
  uint64_t gpa = 0;
  EXPECT_FALSE(cache.Lookup(kRoot, vaddr, &gpa));
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), vaddr, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x100045040ULL);
  const int walked = memory.reads;
  // Another line of the same page: from the cache, no table read.
  gpa = 0;
  ASSERT_TRUE(cache.Lookup(kRoot, vaddr + 0x80, &gpa));
  EXPECT_EQ(gpa, 0x1000450c0ULL);
  EXPECT_EQ(memory.reads, walked);
  // The neighbouring page was never walked.
  EXPECT_FALSE(cache.Lookup(kRoot, vaddr + 0x1000, &gpa));
  EXPECT_EQ(cache.counters().hits, 1u);
  EXPECT_EQ(cache.counters().misses, 2u);
  EXPECT_EQ(cache.counters().fills, 1u);
}

TEST(TranslationCacheTest, ThePcidAndFlagBitsOfCr3DoNotNameAnotherAddressSpace) {
  FakeMemory memory;
  const uint64_t vaddr = 0x0000555500001000ULL;
  Map(&memory, vaddr, {kRoot, 0x2000, 0x3000, 0x4000}, 0x200000ULL | kPresentWritable);
  TranslationCache cache;
  uint64_t gpa = 0;
  // Filled with PCID 5; looked up with PCID 0x7ff, bit 63 (no flush), PWT/PCD, LAM bits.
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot | 5), vaddr, memory, &gpa), WalkResult::kOk);
  const uint64_t with_flags[] = {kRoot, kRoot | 0x7ff, kRoot | (1ULL << 63), kRoot | 0x18,
                                 kRoot | (3ULL << 61) | 1};
  for (uint64_t cr3 : with_flags) {
    gpa = 0;
    ASSERT_TRUE(cache.Lookup(cr3, vaddr, &gpa)) << std::hex << cr3;
    EXPECT_EQ(gpa, 0x200000u);
  }
  EXPECT_EQ(TranslationCache::AddressSpaceOf((1ULL << 63) | 0x000f123456789abcULL),
            0x000f123456789000ULL);
}

TEST(TranslationCacheTest, AddressSpacesAreKeptApart) {
  FakeMemory memory;
  const uint64_t vaddr = 0x0000555500001000ULL;
  // The same virtual page in two address spaces, mapped to two physical pages.
  Map(&memory, vaddr, {kRoot, 0x2000, 0x3000, 0x4000}, 0x200000ULL | kPresentWritable);
  Map(&memory, vaddr, {0x9000, 0xa000, 0xb000, 0xc000}, 0x300000ULL | kPresentWritable);
  TranslationCache cache;
  uint64_t gpa = 0;
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), vaddr, memory, &gpa), WalkResult::kOk);
  EXPECT_FALSE(cache.Lookup(0x9000, vaddr, &gpa));
  ASSERT_EQ(cache.WalkAndFill(Paging(0x9000), vaddr, memory, &gpa), WalkResult::kOk);
  ASSERT_TRUE(cache.Lookup(kRoot, vaddr, &gpa));
  EXPECT_EQ(gpa, 0x200000u);
  ASSERT_TRUE(cache.Lookup(0x9000, vaddr, &gpa));
  EXPECT_EQ(gpa, 0x300000u);
}

TEST(TranslationCacheTest, OneWalkServesAWholeLargePage) {
  FakeMemory memory;
  const uint64_t v2m = 0x00007f0000200000ULL + 0x1234;  // In a 2 MiB page.
  Map(&memory, v2m, {kRoot, 0x2000, 0x3000}, 0x140200000ULL | kPresentWritable | kLarge);
  const uint64_t v1g = 0x0000004040000000ULL + 0x30201040;  // In a 1 GiB page.
  Map(&memory, v1g, {kRoot, 0x5000}, 0x80000000ULL | kPresentWritable | kLarge);
  TranslationCache cache;
  uint64_t gpa = 0;
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), v2m, memory, &gpa), WalkResult::kOk);
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), v1g, memory, &gpa), WalkResult::kOk);
  const int walked = memory.reads;
  // The first and last line of each large page, from the cache.
  ASSERT_TRUE(cache.Lookup(kRoot, 0x00007f0000200000ULL, &gpa));
  EXPECT_EQ(gpa, 0x140200000ULL);
  ASSERT_TRUE(cache.Lookup(kRoot, 0x00007f00003fffc0ULL, &gpa));
  EXPECT_EQ(gpa, 0x1403fffc0ULL);
  ASSERT_TRUE(cache.Lookup(kRoot, 0x0000004040000000ULL, &gpa));
  EXPECT_EQ(gpa, 0x80000000ULL);
  ASSERT_TRUE(cache.Lookup(kRoot, 0x000000407fffffc0ULL, &gpa));
  EXPECT_EQ(gpa, 0xbfffffc0ULL);
  EXPECT_EQ(memory.reads, walked);
  // One byte past either large page: not covered.
  EXPECT_FALSE(cache.Lookup(kRoot, 0x00007f0000400000ULL, &gpa));
  EXPECT_FALSE(cache.Lookup(kRoot, 0x0000004080000000ULL, &gpa));
  EXPECT_FALSE(cache.Lookup(kRoot, 0x00007f00001fffc0ULL, &gpa));
}

TEST(TranslationCacheTest, PagingOffAndFailedWalksAreNotKept) {
  FakeMemory memory;
  TranslationCache cache;
  uint64_t gpa = 0;
  // Paging off: the address is physical, whatever CR3 holds.
  ASSERT_EQ(cache.WalkAndFill({0, kRoot, 0, kLma}, 0x5000, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x5000u);
  EXPECT_FALSE(cache.Lookup(kRoot, 0x5000, &gpa));
  // Not present: the page may be mapped later without an invalidation.
  EXPECT_EQ(cache.WalkAndFill(Paging(kRoot), 0x7000, memory, &gpa), WalkResult::kNotPresent);
  EXPECT_FALSE(cache.Lookup(kRoot, 0x7000, &gpa));
  Map(&memory, 0x7000, {kRoot, 0x2000, 0x3000, 0x4000}, 0x8000 | kPresentWritable);
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), 0x7000, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x8000u);
  EXPECT_EQ(cache.counters().fills, 1u);
}

TEST(TranslationCacheTest, CollisionsMissButNeverAnswerWrong) {
  FakeMemory memory;
  TranslationCache cache;
  // Far more pages than slots, each to its own physical page (4096 + its index).
  constexpr uint64_t kPages = 8 * TranslationCache::kSlots;
  for (uint64_t i = 0; i < kPages; ++i) {
    const uint64_t vaddr = 0x0000600000000000ULL + i * 0x1000;
    Map(&memory, vaddr, {kRoot, 0x2000, 0x3000, 0x10000 + (i / 512) * 0x1000},
        ((0x1000 + i) << 12) | kPresentWritable);
    uint64_t gpa = 0;
    ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), vaddr, memory, &gpa), WalkResult::kOk);
  }
  uint64_t hits = 0;
  for (uint64_t i = 0; i < kPages; ++i) {
    uint64_t gpa = 0;
    if (cache.Lookup(kRoot, 0x0000600000000000ULL + i * 0x1000 + 0x40, &gpa)) {
      ++hits;
      EXPECT_EQ(gpa, ((0x1000 + i) << 12) | 0x40) << i;
    }
  }
  EXPECT_GT(hits, 0u);
  EXPECT_LE(hits, TranslationCache::kSlots);
}

TEST(TranslationCacheTest, ATableChangeShowsAfterTheInvalidationOnly) {
  // The contract: the cache answers what the tables said until the guest invalidates, as a
  // TLB does; the guest invalidates after every change to a present translation.
  FakeMemory memory;
  const uint64_t vaddr = 0x0000555500001000ULL;
  Map(&memory, vaddr, {kRoot, 0x2000, 0x3000, 0x4000}, 0x200000ULL | kPresentWritable);
  TranslationCache cache;
  uint64_t gpa = 0;
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), vaddr, memory, &gpa), WalkResult::kOk);
  Map(&memory, vaddr, {kRoot, 0x2000, 0x3000, 0x4000}, 0x300000ULL | kPresentWritable);
  ASSERT_TRUE(cache.Lookup(kRoot, vaddr, &gpa));
  EXPECT_EQ(gpa, 0x200000u);
  cache.Invalidate(X86TlbFlush::kInvlpg);
  EXPECT_FALSE(cache.Lookup(kRoot, vaddr, &gpa));
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), vaddr, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x300000u);
  ASSERT_TRUE(cache.Lookup(kRoot, vaddr, &gpa));
  EXPECT_EQ(gpa, 0x300000u);
}

TEST(TranslationCacheTest, TheLastHitIsTriedFirstButAnswersOnlyItsOwnKey) {
  FakeMemory memory;
  const uint64_t small = 0x0000555500001000ULL;
  const uint64_t large = 0x00007f0000200000ULL;
  TranslationCache cache;
  ASSERT_TRUE(FillTwoSpacesAndALargePage(&memory, &cache, small, large, {kRoot, 0x2000, 0x5000},
                                         0x140200000ULL));
  uint64_t gpa = 0;
  // Alternating pages, sizes and address spaces: each answer is its own.
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(cache.Lookup(kRoot, large + 0x1fffc0, &gpa));
    EXPECT_EQ(gpa, 0x1403fffc0ULL);
    ASSERT_TRUE(cache.Lookup(kRoot, large + 0x40, &gpa));
    EXPECT_EQ(gpa, 0x140200040ULL);
    ASSERT_TRUE(cache.Lookup(kRoot, small + 0x80, &gpa));
    EXPECT_EQ(gpa, 0x200080u);
    ASSERT_TRUE(cache.Lookup(0x9000, small + 0x80, &gpa));
    EXPECT_EQ(gpa, 0x300080u);
    EXPECT_FALSE(cache.Lookup(kRoot, small + 0x1000, &gpa));  // Next page: never walked.
    EXPECT_FALSE(cache.Lookup(0x9000, large, &gpa));          // Other space: never walked.
  }
  // The last hit is an entry like the others: an invalidation drops it too.
  ASSERT_TRUE(cache.Lookup(kRoot, small, &gpa));
  cache.Invalidate(X86TlbFlush::kMovToCr3);
  EXPECT_FALSE(cache.Lookup(kRoot, small, &gpa));
}

TEST(TranslationCacheTest, ARememberedCr3IsPerCpuAndLastsUntilAnInvalidation) {
  TranslationCache cache;
  uint64_t cr3 = 0;
  EXPECT_FALSE(cache.RememberedCr3(64, &cr3));
  cache.RememberCr3(64, kRoot);
  cache.RememberCr3(65, 0x9000);
  ASSERT_TRUE(cache.RememberedCr3(64, &cr3));
  EXPECT_EQ(cr3, kRoot);
  ASSERT_TRUE(cache.RememberedCr3(65, &cr3));
  EXPECT_EQ(cr3, 0x9000u);
  EXPECT_FALSE(cache.RememberedCr3(66, &cr3));
  cache.RememberCr3(1u << 20, kRoot);  // Past the table: not kept, not an error.
  EXPECT_FALSE(cache.RememberedCr3(1u << 20, &cr3));
  // A MOV to CR3 on any vCPU, or any other invalidation, and each CPU reads CR3 again.
  cache.Invalidate(X86TlbFlush::kInvlpg);
  EXPECT_FALSE(cache.RememberedCr3(64, &cr3));
  EXPECT_FALSE(cache.RememberedCr3(65, &cr3));
  cache.RememberCr3(64, 0x9000);
  ASSERT_TRUE(cache.RememberedCr3(64, &cr3));
  EXPECT_EQ(cr3, 0x9000u);
}

struct FlushCase {
  std::string name;
  std::vector<uint8_t> bytes;
  X86TlbFlush flush;
};

class InvalidationTest : public ::testing::TestWithParam<FlushCase> {};

// Each TLB-invalidating instruction, as the decoder sees it, empties the cache: every address
// space, every page size, and the kernel's half as well as the user's.
TEST_P(InvalidationTest, TheDecodedInstructionEmptiesTheCache) {
  const FlushCase& c = GetParam();
  X86Instruction insn;
  ASSERT_TRUE(DecodeX86(c.bytes.data(), c.bytes.size(), 0xffffffff81000000ULL, &insn));
  ASSERT_EQ(insn.tlb_flush, c.flush) << X86TlbFlushName(insn.tlb_flush);

  FakeMemory memory;
  const uint64_t user = 0x0000555500001000ULL;
  const uint64_t kernel = 0xffff888000200000ULL;
  TranslationCache cache;
  ASSERT_TRUE(
      FillTwoSpacesAndALargePage(&memory, &cache, user, kernel, {kRoot, 0x5000, 0x6000}, 0x400000));
  uint64_t gpa = 0;
  ASSERT_TRUE(cache.Lookup(kRoot, user, &gpa));
  cache.RememberCr3(64, kRoot);

  cache.Invalidate(insn.tlb_flush);
  uint64_t cr3 = 0;
  EXPECT_FALSE(cache.RememberedCr3(64, &cr3));
  EXPECT_FALSE(cache.Lookup(kRoot, user, &gpa));
  EXPECT_FALSE(cache.Lookup(kRoot, kernel, &gpa));
  EXPECT_FALSE(cache.Lookup(0x9000, user, &gpa));
  EXPECT_EQ(cache.counters().invalidations[static_cast<size_t>(c.flush)], 1u);
  // Refilled afterwards as before.
  ASSERT_EQ(cache.WalkAndFill(Paging(kRoot), user, memory, &gpa), WalkResult::kOk);
  EXPECT_TRUE(cache.Lookup(kRoot, user, &gpa));
}

// Encodings as GNU as emits them (AT&T syntax in the comments).
INSTANTIATE_TEST_SUITE_P(
    Instructions, InvalidationTest,
    ::testing::Values(FlushCase{"MovRaxToCr3", {0x0f, 0x22, 0xd8}, X86TlbFlush::kMovToCr3},
                      FlushCase{"MovR9ToCr3", {0x41, 0x0f, 0x22, 0xd9}, X86TlbFlush::kMovToCr3},
                      FlushCase{"MovRdiToCr4", {0x0f, 0x22, 0xe7}, X86TlbFlush::kMovToCr4},
                      FlushCase{"MovRaxToCr0", {0x0f, 0x22, 0xc0}, X86TlbFlush::kMovToCr0},
                      FlushCase{"InvlpgRdi", {0x0f, 0x01, 0x3f}, X86TlbFlush::kInvlpg},
                      FlushCase{"InvlpgDisp8Rax", {0x0f, 0x01, 0x78, 0x40}, X86TlbFlush::kInvlpg},
                      FlushCase{"InvpcidRaxRcx",  // invpcid (%rax),%rcx
                                {0x66, 0x0f, 0x38, 0x82, 0x08},
                                X86TlbFlush::kInvpcid},
                      FlushCase{"Invlpgb", {0x0f, 0x01, 0xfe}, X86TlbFlush::kInvlpgb},
                      FlushCase{"Rsm", {0x0f, 0xaa}, X86TlbFlush::kRsm}),
    [](const ::testing::TestParamInfo<FlushCase>& info) { return info.param.name; });

}  // namespace
}  // namespace nvlab::plugin
