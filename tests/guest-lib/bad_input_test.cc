// bad_input_test.cc -- every invalid argument gets STATUS_INVALID_PARAMETER, never a crash and
// never a write: one table of cases, each run against a region whose bytes are checked after.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nvrtl/nvrtl.h"
#include "test_region.h"

namespace {

constexpr size_t kRegion = size_t{64} * 1024;

struct Env {
  TestRegion& region;
  PVOID freed;
  PVOID other;  // a live token for a different (registered) region
  unsigned char* other_base;
};

struct BadCase {
  std::string name;
  std::function<NTSTATUS(Env&)> call;
};

PVOID Forged(uintptr_t v) {
  return reinterpret_cast<PVOID>(v);  // NOLINT(performance-no-int-to-ptr): forging is the point
}

std::vector<BadCase> Cases() {
  const unsigned char src[256] = {1};
  auto in = [](Env& e, size_t off) { return e.region.base() + off; };
  std::vector<BadCase> cases = {
      // Tokens.
      {"WriteNullToken",
       [=](Env& e) { return RtlWriteNonVolatileMemory(nullptr, in(e, 0), src, 8, 0); }},
      {"WriteForgedToken",
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(Forged(0x4E56FFFFFFFE0001), in(e, 0), src, 8, 0);
       }},
      {"WriteStackPointerToken",
       [=](Env& e) {
         int x = 0;
         return RtlWriteNonVolatileMemory(&x, in(e, 0), src, 8, 0);
       }},
      {"WriteFreedToken",
       [=](Env& e) { return RtlWriteNonVolatileMemory(e.freed, in(e, 0), src, 8, 0); }},
      {"WriteWrongRegionToken",
       [=](Env& e) { return RtlWriteNonVolatileMemory(e.other, in(e, 0), src, 8, 0); }},
      {"FillFreedToken",
       [](Env& e) { return RtlFillNonVolatileMemory(e.freed, e.region.base(), 8, 1, 0); }},
      {"FlushForgedToken",
       [](Env& e) { return RtlFlushNonVolatileMemory(Forged(1), e.region.base(), 8, 0); }},
      {"FlushRangesNullToken",
       [](Env& e) {
         NV_MEMORY_RANGE r{e.region.base(), 8};
         return RtlFlushNonVolatileMemoryRanges(nullptr, &r, 1, 0);
       }},
      {"DrainFreedToken", [](Env& e) { return RtlDrainNonVolatileFlush(e.freed); }},
      {"DrainAllOnesButOneToken",
       [](Env&) { return RtlDrainNonVolatileFlush(Forged(UINTPTR_MAX - 1)); }},
      {"FreeNullToken", [](Env&) { return RtlFreeNonVolatileToken(nullptr); }},
      {"FreeFreedToken", [](Env& e) { return RtlFreeNonVolatileToken(e.freed); }},
      {"FreeIndexOutOfTable",
       [](Env&) { return RtlFreeNonVolatileToken(Forged(0x4E5600000001FFFF)); }},
      {"QueryFreedToken",
       [](Env& e) {
         ULONG d = 0;
         return NvQueryPersistenceDomain(e.freed, &d);
       }},
      // Ranges.
      {"WriteOnePastTheEnd",
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, kRegion - 7), src, 8, 0);
       }},
      {"WriteBeforeTheStart",
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0) - 1, src, 8, 0);
       }},
      {"WriteLargerThanRegion",
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, kRegion + 1, 0);
       }},
      {"WriteSizeOverflows",
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 64), src, SIZE_MAX - 10, 0);
       }},
      {"WriteSourceOverflows",
       [](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), e.region.base(),
                                          Forged(UINTPTR_MAX - 3), 8, 0);
       }},
      {"WriteNullDestination",
       [=](Env& e) { return RtlWriteNonVolatileMemory(e.region.token(), nullptr, src, 8, 0); }},
      {"WriteNullSource",
       [](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), e.region.base(), nullptr, 8, 0);
       }},
      {"FillNullDestination",
       [](Env& e) { return RtlFillNonVolatileMemory(e.region.token(), nullptr, 8, 1, 0); }},
      {"FillPastTheEnd",
       [](Env& e) {
         return RtlFillNonVolatileMemory(e.region.token(), e.region.base() + 1, kRegion, 1, 0);
       }},
      {"FlushNullBuffer",
       [](Env& e) { return RtlFlushNonVolatileMemory(e.region.token(), nullptr, 8, 0); }},
      {"FlushAddressWraps",
       [](Env& e) {
         return RtlFlushNonVolatileMemory(e.region.token(), Forged(UINTPTR_MAX - 10), 100, 0);
       }},
      {"FlushDefaultTokenWraps",
       [](Env&) {
         return RtlFlushNonVolatileMemory(Forged(FLUSH_NV_MEMORY_DEFAULT_TOKEN),
                                          Forged(UINTPTR_MAX - 10), 100, 0);
       }},
      {"FlushOtherRegionsMemory",
       [](Env& e) { return RtlFlushNonVolatileMemory(e.region.token(), e.other_base, 8, 0); }},
      {"FlushRangesNullArray",
       [](Env& e) { return RtlFlushNonVolatileMemoryRanges(e.region.token(), nullptr, 1, 0); }},
      {"FlushRangesOneBadAmongGood",
       [](Env& e) {
         NV_MEMORY_RANGE r[3] = {
             {e.region.base(), 8}, {e.region.base() + kRegion, 1}, {e.region.base(), 8}};
         return RtlFlushNonVolatileMemoryRanges(e.region.token(), r, 3, 0);
       }},
      {"FlushRangesNullRangeWithLength",
       [](Env& e) {
         NV_MEMORY_RANGE r{nullptr, 8};
         return RtlFlushNonVolatileMemoryRanges(e.region.token(), &r, 1, 0);
       }},
      // Flags.
      {"FlushUnknownFlag",
       [](Env& e) { return RtlFlushNonVolatileMemory(e.region.token(), e.region.base(), 8, 2); }},
      {"FlushHighFlag",
       [](Env& e) {
         return RtlFlushNonVolatileMemory(e.region.token(), e.region.base(), 8, 0x80000000u);
       }},
      {"FlushRangesUnknownFlag",
       [](Env& e) {
         NV_MEMORY_RANGE r{e.region.base(), 8};
         return RtlFlushNonVolatileMemoryRanges(e.region.token(), &r, 1, 4);
       }},
      {"WriteUnknownFlag",
       [=](Env& e) { return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, 8, 4); }},
      {"WriteNoDrainAlone",
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, 8, 0x100);
       }},
      {"WriteNoDrainWithPersist",
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, 8, 0x103);
       }},
      {"WriteNoDrainWithNonTemporal",
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, 8, 0x102);
       }},
      {"FillNoDrainWithPersist",
       [](Env& e) {
         return RtlFillNonVolatileMemory(e.region.token(), e.region.base(), 8, 1, 0x103);
       }},
      {"FillNoDrainWithNonTemporal",
       [](Env& e) {
         return RtlFillNonVolatileMemory(e.region.token(), e.region.base(), 8, 1, 0x102);
       }},
      {"FillUnknownFlag",
       [](Env& e) {
         return RtlFillNonVolatileMemory(e.region.token(), e.region.base(), 8, 1, 0x200);
       }},
      // Get.
      {"GetNullOutPointer",
       [](Env& e) { return RtlGetNonVolatileToken(e.region.base(), 8, nullptr); }},
      {"GetNullBuffer",
       [](Env&) {
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(nullptr, 8, &t);
       }},
      {"GetSizeZero",
       [](Env& e) {
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(e.region.base(), 0, &t);
       }},
      {"GetOverflow",
       [](Env& e) {
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(e.region.base(), SIZE_MAX, &t);
       }},
      {"GetPastRegisteredRange",
       [](Env& e) {
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(e.region.base() + 8, kRegion, &t);
       }},
      {"GetStackMemory",
       [](Env&) {
         char buf[64];
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(buf, sizeof buf, &t);
       }},
      // Registration.
      {"RegisterNull", [](Env&) { return NvRegisterNonVolatileRange(nullptr, 8); }},
      {"RegisterSizeZero",
       [](Env& e) { return NvRegisterNonVolatileRange(e.other_base + kRegion, 0); }},
      {"RegisterOverflow",
       [](Env&) { return NvRegisterNonVolatileRange(Forged(UINTPTR_MAX - 4), 8); }},
      {"UnregisterInsideRange",
       [](Env& e) { return NvUnregisterNonVolatileRange(e.region.base() + 64); }},
  };
  return cases;
}

TEST(BadInputTest, EveryInvalidArgumentIsRejectedWithoutSideEffects) {
  TestRegion region(kRegion);
  TestRegion other(kRegion);
  ASSERT_TRUE(region.ok());
  ASSERT_TRUE(other.ok());
  PVOID freed = nullptr;
  ASSERT_EQ(RtlGetNonVolatileToken(region.base(), 64, &freed), STATUS_SUCCESS);
  ASSERT_EQ(RtlFreeNonVolatileToken(freed), STATUS_SUCCESS);
  Env env{region, freed, other.token(), other.base()};
  std::memset(region.base(), 0xEE, kRegion);
  for (const BadCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(c.call(env), STATUS_INVALID_PARAMETER);
    EXPECT_STRNE(NvGetLastErrorMessage(), "");
  }
  for (size_t i = 0; i < kRegion; ++i) ASSERT_EQ(region.base()[i], 0xEE) << "byte " << i;
  // The region's own token still works after all that.
  EXPECT_EQ(RtlFlushNonVolatileMemory(region.token(), region.base(), kRegion, 0), STATUS_SUCCESS);
}

}  // namespace
