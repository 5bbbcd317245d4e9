// Tests of the software page walk over synthetic page tables.
#include "page_walk.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <map>

namespace nvlab::plugin {
namespace {

constexpr uint64_t kPg = 1ULL << 31;
constexpr uint64_t kLma = 1ULL << 10;
constexpr uint64_t kLa57 = 1ULL << 12;
constexpr uint64_t kPresentWritable = 0x3;
constexpr uint64_t kLarge = 0x80;

// FakeMemory: 8-byte words of guest-physical memory; anything else is unbacked.
class FakeMemory : public PhysicalMemoryReader {
 public:
  bool Read64(uint64_t gpa, uint64_t* value) const override {
    auto it = words_.find(gpa);
    if (it == words_.end()) {
      if (gpa >= backed_end_) return false;
      *value = 0;  // Backed but never written: a not-present entry.
      return true;
    }
    *value = it->second;
    return true;
  }
  void Set(uint64_t table, uint64_t index, uint64_t entry) { words_[table + index * 8] = entry; }
  uint64_t backed_end_ = 0x1000000;

 private:
  std::map<uint64_t, uint64_t> words_;
};

uint64_t Index(uint64_t vaddr, int level) {
  return (vaddr >> (12 + 9 * (level - 1))) & 0x1ff;
}

// MapWalk writes the path of vaddr through `tables` (physical addresses, the first at
// top_level, each entry pointing to the next table) ending in the entry `leaf` in the last one.
void MapWalk(FakeMemory* memory, uint64_t vaddr, int top_level,
             std::initializer_list<uint64_t> tables, uint64_t leaf) {
  int level = top_level;
  const uint64_t* table = tables.begin();
  for (; table + 1 != tables.end(); ++table, --level) {
    memory->Set(*table, Index(vaddr, level), *(table + 1) | kPresentWritable);
  }
  memory->Set(*table, Index(vaddr, level), leaf);
}

TEST(PageWalkTest, PagingOffIsIdentityAndTruncatedOutsideLongMode) {
  FakeMemory memory;
  uint64_t gpa = 0;
  ASSERT_EQ(TranslateVirtual({0, 0, 0, kLma}, 0x100000040, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x100000040u);
  ASSERT_EQ(TranslateVirtual({}, 0x100000040, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x40u);
}

TEST(PageWalkTest, FourLevelWalkTo4KiBPage) {
  FakeMemory memory;
  const uint64_t vaddr = 0x00007f1234567abcULL;
  MapWalk(&memory, vaddr, 4, {0x1000, 0x2000, 0x3000, 0x4000},
          0x100045000ULL | kPresentWritable | (1ULL << 63));  // NX
  uint64_t gpa = 0;
  ASSERT_EQ(TranslateVirtual({kPg, 0x1000, 0, kLma}, vaddr, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x100045abcULL);
}

TEST(PageWalkTest, TwoMiBAndOneGiBPagesEndTheWalk) {
  FakeMemory memory;
  const uint64_t v2m = 0xffff888000123456ULL;
  MapWalk(&memory, v2m, 4, {0x1000, 0x2000, 0x3000}, 0x100200000ULL | kPresentWritable | kLarge);
  uint64_t gpa = 0;
  ASSERT_EQ(TranslateVirtual({kPg, 0x1000, 0, kLma}, v2m, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x100200000ULL + (v2m & 0x1fffff));

  const uint64_t v1g = 0x0000004040302010ULL;
  MapWalk(&memory, v1g, 4, {0x1000, 0x5000}, 0x140000000ULL | kPresentWritable | kLarge);
  ASSERT_EQ(TranslateVirtual({kPg, 0x1000, 0, kLma}, v1g, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x140000000ULL + (v1g & 0x3fffffff));
}

TEST(PageWalkTest, TheWalkTellsThePageSizeAndWhetherPagingWasOn) {
  FakeMemory memory;
  const uint64_t v4k = 0x00007f1234567abcULL;
  MapWalk(&memory, v4k, 4, {0x1000, 0x2000, 0x3000, 0x4000}, 0x100045000ULL | kPresentWritable);
  const uint64_t v2m = 0xffff888000123456ULL;
  MapWalk(&memory, v2m, 4, {0x1000, 0x6000, 0x7000}, 0x100200000ULL | kPresentWritable | kLarge);
  const uint64_t v1g = 0x0000004040302010ULL;
  MapWalk(&memory, v1g, 4, {0x1000, 0x5000}, 0x140000000ULL | kPresentWritable | kLarge);
  uint64_t gpa = 0;
  WalkedPage page;
  ASSERT_EQ(TranslateVirtual({kPg, 0x1000, 0, kLma}, v4k, memory, &gpa, &page), WalkResult::kOk);
  EXPECT_TRUE(page.paged);
  EXPECT_EQ(page.page_shift, 12u);
  ASSERT_EQ(TranslateVirtual({kPg, 0x1000, 0, kLma}, v2m, memory, &gpa, &page), WalkResult::kOk);
  EXPECT_TRUE(page.paged);
  EXPECT_EQ(page.page_shift, 21u);
  ASSERT_EQ(TranslateVirtual({kPg, 0x1000, 0, kLma}, v1g, memory, &gpa, &page), WalkResult::kOk);
  EXPECT_TRUE(page.paged);
  EXPECT_EQ(page.page_shift, 30u);
  ASSERT_EQ(TranslateVirtual({0, 0x1000, 0, kLma}, v4k, memory, &gpa, &page), WalkResult::kOk);
  EXPECT_FALSE(page.paged);
}

TEST(PageWalkTest, FiveLevelWalkUsesTheTopIndex) {
  FakeMemory memory;
  const uint64_t vaddr = 0x0100000000001008ULL;
  MapWalk(&memory, vaddr, 5, {0x1000, 0x2000, 0x3000, 0x4000, 0x5000}, 0x9000 | kPresentWritable);
  uint64_t gpa = 0;
  ASSERT_EQ(TranslateVirtual({kPg, 0x1000, kLa57, kLma}, vaddr, memory, &gpa), WalkResult::kOk);
  EXPECT_EQ(gpa, 0x9008u);
}

TEST(PageWalkTest, NotPresentUnreadableAndUnsupportedAreReported) {
  FakeMemory memory;
  uint64_t gpa = 0;
  EXPECT_EQ(TranslateVirtual({kPg, 0x1000, 0, kLma}, 0x1000, memory, &gpa),
            WalkResult::kNotPresent);
  memory.Set(0x1000, 0, 0x7000000000ULL | kPresentWritable);  // Table beyond backed memory.
  EXPECT_EQ(TranslateVirtual({kPg, 0x1000, 0, kLma}, 0x1000, memory, &gpa),
            WalkResult::kUnreadable);
  EXPECT_EQ(TranslateVirtual({kPg, 0x1000, 0, 0}, 0x1000, memory, &gpa),
            WalkResult::kUnsupportedMode);
}

}  // namespace
}  // namespace nvlab::plugin
