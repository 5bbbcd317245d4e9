// bad_input_test.cc -- every invalid argument gets STATUS_INVALID_PARAMETER, never a crash and
// never a write: one table of cases, each run against a region whose bytes are checked after.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "last_error_contains.h"
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

// Each case also names the part of the last-error message that says why it is refused.
struct BadCase {
  std::string name;
  const char* message;
  std::function<NTSTATUS(Env&)> call;
};

constexpr const char* kNullToken = "NvToken is NULL";
constexpr const char* kDeadToken = "NvToken is not a live token (forged or freed)";
constexpr const char* kOutside = "range lies outside the token's region";
constexpr const char* kWraps = "address + size overflows";
constexpr const char* kNullBuffer = "NULL buffer with a non-zero size";
constexpr const char* kFlushFlags = "unknown flush flag bits";
constexpr const char* kStoreFlags = "unknown flag bits";
constexpr const char* kNoDrain = "NO_DRAIN is valid only with FLUSH alone";
constexpr const char* kSizeZero = "Size is 0";

PVOID Forged(uintptr_t v) {
  return reinterpret_cast<PVOID>(v);  // NOLINT(performance-no-int-to-ptr): forging is the point
}

std::vector<BadCase> Cases() {
  const unsigned char src[256] = {1};
  auto in = [](Env& e, size_t off) { return e.region.base() + off; };
  std::vector<BadCase> cases = {
      // Tokens.
      {"WriteNullToken", kNullToken,
       [=](Env& e) { return RtlWriteNonVolatileMemory(nullptr, in(e, 0), src, 8, 0); }},
      {"WriteForgedToken", kDeadToken,
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(Forged(0x4E56FFFFFFFE0001), in(e, 0), src, 8, 0);
       }},
      {"WriteStackPointerToken", kDeadToken,
       [=](Env& e) {
         int x = 0;
         return RtlWriteNonVolatileMemory(&x, in(e, 0), src, 8, 0);
       }},
      {"WriteFreedToken", kDeadToken,
       [=](Env& e) { return RtlWriteNonVolatileMemory(e.freed, in(e, 0), src, 8, 0); }},
      {"WriteWrongRegionToken", kOutside,
       [=](Env& e) { return RtlWriteNonVolatileMemory(e.other, in(e, 0), src, 8, 0); }},
      {"FillFreedToken", kDeadToken,
       [](Env& e) { return RtlFillNonVolatileMemory(e.freed, e.region.base(), 8, 1, 0); }},
      {"FlushForgedToken", kDeadToken,
       [](Env& e) { return RtlFlushNonVolatileMemory(Forged(1), e.region.base(), 8, 0); }},
      {"FlushRangesNullToken", kNullToken,
       [](Env& e) {
         NV_MEMORY_RANGE r{e.region.base(), 8};
         return RtlFlushNonVolatileMemoryRanges(nullptr, &r, 1, 0);
       }},
      {"DrainFreedToken", kDeadToken, [](Env& e) { return RtlDrainNonVolatileFlush(e.freed); }},
      {"DrainAllOnesButOneToken", kDeadToken,
       [](Env&) { return RtlDrainNonVolatileFlush(Forged(UINTPTR_MAX - 1)); }},
      {"FreeNullToken", kNullToken, [](Env&) { return RtlFreeNonVolatileToken(nullptr); }},
      {"FreeFreedToken", kDeadToken, [](Env& e) { return RtlFreeNonVolatileToken(e.freed); }},
      {"FreeIndexOutOfTable", kDeadToken,
       [](Env&) { return RtlFreeNonVolatileToken(Forged(0x4E5600000001FFFF)); }},
      {"QueryFreedToken", kDeadToken,
       [](Env& e) {
         ULONG d = 0;
         return NvQueryPersistenceDomain(e.freed, &d);
       }},
      // Ranges.
      {"WriteOnePastTheEnd", kOutside,
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, kRegion - 7), src, 8, 0);
       }},
      {"WriteBeforeTheStart", kOutside,
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0) - 1, src, 8, 0);
       }},
      {"WriteLargerThanRegion", kOutside,
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, kRegion + 1, 0);
       }},
      {"WriteSizeOverflows", kWraps,
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 64), src, SIZE_MAX - 10, 0);
       }},
      {"WriteSourceOverflows", "Source + Size overflows",
       [](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), e.region.base(),
                                          Forged(UINTPTR_MAX - 3), 8, 0);
       }},
      {"WriteNullDestination", kNullBuffer,
       [=](Env& e) { return RtlWriteNonVolatileMemory(e.region.token(), nullptr, src, 8, 0); }},
      {"WriteNullSource", "Source is NULL with a non-zero size",
       [](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), e.region.base(), nullptr, 8, 0);
       }},
      {"FillNullDestination", kNullBuffer,
       [](Env& e) { return RtlFillNonVolatileMemory(e.region.token(), nullptr, 8, 1, 0); }},
      {"FillPastTheEnd", kOutside,
       [](Env& e) {
         return RtlFillNonVolatileMemory(e.region.token(), e.region.base() + 1, kRegion, 1, 0);
       }},
      {"FlushNullBuffer", kNullBuffer,
       [](Env& e) { return RtlFlushNonVolatileMemory(e.region.token(), nullptr, 8, 0); }},
      {"FlushAddressWraps", kWraps,
       [](Env& e) {
         return RtlFlushNonVolatileMemory(e.region.token(), Forged(UINTPTR_MAX - 10), 100, 0);
       }},
      {"FlushDefaultTokenWraps", kWraps,
       [](Env&) {
         return RtlFlushNonVolatileMemory(Forged(FLUSH_NV_MEMORY_DEFAULT_TOKEN),
                                          Forged(UINTPTR_MAX - 10), 100, 0);
       }},
      {"FlushOtherRegionsMemory", kOutside,
       [](Env& e) { return RtlFlushNonVolatileMemory(e.region.token(), e.other_base, 8, 0); }},
      {"FlushRangesNullArray", "NvRanges is NULL with NumRanges > 0",
       [](Env& e) { return RtlFlushNonVolatileMemoryRanges(e.region.token(), nullptr, 1, 0); }},
      {"FlushRangesOneBadAmongGood", kOutside,
       [](Env& e) {
         NV_MEMORY_RANGE r[3] = {
             {e.region.base(), 8}, {e.region.base() + kRegion, 1}, {e.region.base(), 8}};
         return RtlFlushNonVolatileMemoryRanges(e.region.token(), r, 3, 0);
       }},
      {"FlushRangesNullRangeWithLength", kNullBuffer,
       [](Env& e) {
         NV_MEMORY_RANGE r{nullptr, 8};
         return RtlFlushNonVolatileMemoryRanges(e.region.token(), &r, 1, 0);
       }},
      // Flags.
      {"FlushUnknownFlag", kFlushFlags,
       [](Env& e) { return RtlFlushNonVolatileMemory(e.region.token(), e.region.base(), 8, 2); }},
      {"FlushHighFlag", kFlushFlags,
       [](Env& e) {
         return RtlFlushNonVolatileMemory(e.region.token(), e.region.base(), 8, 0x80000000u);
       }},
      {"FlushRangesUnknownFlag", kFlushFlags,
       [](Env& e) {
         NV_MEMORY_RANGE r{e.region.base(), 8};
         return RtlFlushNonVolatileMemoryRanges(e.region.token(), &r, 1, 4);
       }},
      {"WriteUnknownFlag", kStoreFlags,
       [=](Env& e) { return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, 8, 4); }},
      {"WriteNoDrainAlone", kNoDrain,
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, 8, 0x100);
       }},
      {"WriteNoDrainWithPersist", kNoDrain,
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, 8, 0x103);
       }},
      {"WriteNoDrainWithNonTemporal", kNoDrain,
       [=](Env& e) {
         return RtlWriteNonVolatileMemory(e.region.token(), in(e, 0), src, 8, 0x102);
       }},
      {"FillNoDrainWithPersist", kNoDrain,
       [](Env& e) {
         return RtlFillNonVolatileMemory(e.region.token(), e.region.base(), 8, 1, 0x103);
       }},
      {"FillNoDrainWithNonTemporal", kNoDrain,
       [](Env& e) {
         return RtlFillNonVolatileMemory(e.region.token(), e.region.base(), 8, 1, 0x102);
       }},
      {"FillUnknownFlag", kStoreFlags,
       [](Env& e) {
         return RtlFillNonVolatileMemory(e.region.token(), e.region.base(), 8, 1, 0x200);
       }},
      // Get.
      {"GetNullOutPointer", kNullToken,
       [](Env& e) { return RtlGetNonVolatileToken(e.region.base(), 8, nullptr); }},
      {"GetNullBuffer", "NvBuffer is NULL",
       [](Env&) {
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(nullptr, 8, &t);
       }},
      {"GetSizeZero", kSizeZero,
       [](Env& e) {
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(e.region.base(), 0, &t);
       }},
      {"GetOverflow", "NvBuffer + Size overflows",
       [](Env& e) {
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(e.region.base(), SIZE_MAX, &t);
       }},
      {"GetPastRegisteredRange", "range extends past its registered range",
       [](Env& e) {
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(e.region.base() + 8, kRegion, &t);
       }},
      {"GetStackMemory", "NvBuffer is not NV memory",
       [](Env&) {
         char buf[64];
         PVOID t = nullptr;
         return RtlGetNonVolatileToken(buf, sizeof buf, &t);
       }},
      // Registration.
      {"RegisterNull", "Base is NULL", [](Env&) { return NvRegisterNonVolatileRange(nullptr, 8); }},
      {"RegisterSizeZero", kSizeZero,
       [](Env& e) { return NvRegisterNonVolatileRange(e.other_base + kRegion, 0); }},
      {"RegisterOverflow", "Base + Size overflows",
       [](Env&) { return NvRegisterNonVolatileRange(Forged(UINTPTR_MAX - 4), 8); }},
      {"UnregisterInsideRange", "no registered range starts at Base",
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
    EXPECT_TRUE(LastErrorContains(c.message));
  }
  for (size_t i = 0; i < kRegion; ++i) ASSERT_EQ(region.base()[i], 0xEE) << "byte " << i;
  // The region's own token still works after all that.
  EXPECT_EQ(RtlFlushNonVolatileMemory(region.token(), region.base(), kRegion, 0), STATUS_SUCCESS);
}

}  // namespace
