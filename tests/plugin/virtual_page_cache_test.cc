// tests/plugin/virtual_page_cache_test.cc -- VirtualPageCache: the watch mode's per-vCPU cache
// of where a load's virtual page goes.

#include "virtual_page_cache.h"

#include <gtest/gtest.h>

namespace nvlab::plugin {
namespace {

constexpr uint64_t kNvdimmPage = 0x100003000;

TEST(VirtualPageCacheTest, AnEmptyCacheKnowsNothing) {
  VirtualPageCache cache;
  uint64_t base = 0;
  EXPECT_FALSE(cache.Lookup(0, 0x7f0000001000, &base));
  EXPECT_FALSE(cache.Lookup(0, 0, &base));  // Page 0 is not a filled slot either.
}

TEST(VirtualPageCacheTest, AFilledPageAnswersForEveryAddressInItOnThatVcpuOnly) {
  VirtualPageCache cache;
  cache.Fill(1, 0x7f0000001234, kNvdimmPage + 0x234, cache.Epoch());
  uint64_t base = 0;
  ASSERT_TRUE(cache.Lookup(1, 0x7f0000001000, &base));
  EXPECT_EQ(base, kNvdimmPage);  // The page's base, whatever address filled it.
  ASSERT_TRUE(cache.Lookup(1, 0x7f0000001fff, &base));
  EXPECT_EQ(base, kNvdimmPage);
  EXPECT_FALSE(cache.Lookup(1, 0x7f0000002000, &base));  // The next page.
  EXPECT_FALSE(cache.Lookup(0, 0x7f0000001234, &base));  // Another vCPU has its own TLB.
}

TEST(VirtualPageCacheTest, APageElsewhereIsRememberedAsNotNvdimm) {
  VirtualPageCache cache;
  cache.Fill(0, 0xffff888000010000, VirtualPageCache::kNotNvdimm, cache.Epoch());
  uint64_t base = 0;
  ASSERT_TRUE(cache.Lookup(0, 0xffff888000010008, &base));
  EXPECT_EQ(base, VirtualPageCache::kNotNvdimm);
}

TEST(VirtualPageCacheTest, AnInvalidationOnAnyVcpuDropsEveryEntry) {
  VirtualPageCache cache;
  cache.Fill(0, 0x1000, kNvdimmPage, cache.Epoch());
  cache.Fill(3, 0x2000, VirtualPageCache::kNotNvdimm, cache.Epoch());
  cache.Invalidate();
  uint64_t base = 0;
  EXPECT_FALSE(cache.Lookup(0, 0x1000, &base));
  EXPECT_FALSE(cache.Lookup(3, 0x2000, &base));
  cache.Fill(0, 0x1000, kNvdimmPage + 0x1000, cache.Epoch());  // Walked again: the new answer.
  ASSERT_TRUE(cache.Lookup(0, 0x1000, &base));
  EXPECT_EQ(base, kNvdimmPage + 0x1000);
}

TEST(VirtualPageCacheTest, AFillThatRacedWithAnInvalidationIsBornStale) {
  VirtualPageCache cache;
  const uint64_t before = cache.Epoch();       // The access is looked up in QEMU...
  cache.Invalidate();                          // ... while another vCPU invalidates ...
  cache.Fill(0, 0x1000, kNvdimmPage, before);  // ... so the answer may be the old mapping.
  uint64_t base = 0;
  EXPECT_FALSE(cache.Lookup(0, 0x1000, &base));
}

TEST(VirtualPageCacheTest, ACollidingPageReplacesTheOlderEntryNeverAnswersForIt) {
  VirtualPageCache cache;
  const uint64_t a = 0x1000;
  const uint64_t b = a + (VirtualPageCache::kSlots << VirtualPageCache::kPageShift);  // Same slot.
  cache.Fill(0, a, kNvdimmPage, cache.Epoch());
  cache.Fill(0, b, VirtualPageCache::kNotNvdimm, cache.Epoch());
  uint64_t base = 0;
  EXPECT_FALSE(cache.Lookup(0, a, &base));
  ASSERT_TRUE(cache.Lookup(0, b, &base));
  EXPECT_EQ(base, VirtualPageCache::kNotNvdimm);
}

TEST(VirtualPageCacheTest, VcpusBeyondTheLimitAreNeverCached) {
  VirtualPageCache cache;
  cache.Fill(VirtualPageCache::kMaxVcpus, 0x1000, kNvdimmPage, cache.Epoch());
  uint64_t base = 0;
  EXPECT_FALSE(cache.Lookup(VirtualPageCache::kMaxVcpus, 0x1000, &base));
}

}  // namespace
}  // namespace nvlab::plugin
