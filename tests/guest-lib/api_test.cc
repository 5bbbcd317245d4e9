// api_test.cc -- each Rtl*/Nv* function on valid input: results, data, and the policies the
// docs promise (size 0, overlapping ranges, memmove-safe writes, thread use, eADR).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "dispatch.h"
#include "last_error_contains.h"
#include "nvrtl/nvrtl.h"
#include "test_region.h"

namespace {

constexpr size_t kRegion = 4u << 20;

std::vector<unsigned char> RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> out(n);
  for (auto& b : out) b = static_cast<unsigned char>(rng());
  return out;
}

class ApiTest : public ::testing::Test {
 protected:
  TestRegion region_{kRegion};
};

TEST_F(ApiTest, GetReturnsATokenForARegisteredRange) {
  ASSERT_TRUE(region_.ok());
  PVOID inner = nullptr;
  ASSERT_EQ(RtlGetNonVolatileToken(region_.base() + 4096, 8192, &inner), STATUS_SUCCESS);
  EXPECT_NE(inner, nullptr);
  EXPECT_NE(inner, region_.token());
  EXPECT_EQ(RtlFreeNonVolatileToken(inner), STATUS_SUCCESS);
}

TEST_F(ApiTest, FreedTokenIsRejectedEvenAfterItsSlotIsReused) {
  PVOID first = nullptr, second = nullptr;
  ASSERT_EQ(RtlGetNonVolatileToken(region_.base(), 64, &first), STATUS_SUCCESS);
  ASSERT_EQ(RtlFreeNonVolatileToken(first), STATUS_SUCCESS);
  ASSERT_EQ(RtlGetNonVolatileToken(region_.base(), 64, &second), STATUS_SUCCESS);
  EXPECT_EQ(RtlDrainNonVolatileFlush(first), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("NvToken is not a live token"));
  EXPECT_EQ(RtlFreeNonVolatileToken(first), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("NvToken is not a live token"));
  EXPECT_EQ(RtlDrainNonVolatileFlush(second), STATUS_SUCCESS);
  EXPECT_EQ(RtlFreeNonVolatileToken(second), STATUS_SUCCESS);
}

TEST_F(ApiTest, WriteCopiesAtEverySizeAndAlignment) {
  ASSERT_TRUE(region_.ok());
  for (size_t size : {size_t{1}, size_t{7}, size_t{63}, size_t{64}, size_t{65}, size_t{255},
                      size_t{256}, size_t{4095}, size_t{65537}, size_t{1} << 20}) {
    for (size_t misalign : {size_t{0}, size_t{1}, size_t{33}}) {
      for (ULONG flags : {0u, 1u, 2u, 3u, 0x101u}) {
        SCOPED_TRACE(testing::Message()
                     << "size=" << size << " misalign=" << misalign << " flags=" << flags);
        const auto src = RandomBytes(size, static_cast<unsigned>(size + misalign + flags));
        unsigned char* dst = region_.base() + 4096 + misalign;
        ASSERT_EQ(RtlWriteNonVolatileMemory(region_.token(), dst, src.data(), size, flags),
                  STATUS_SUCCESS);
        ASSERT_EQ(std::memcmp(dst, src.data(), size), 0);
      }
    }
  }
  ASSERT_EQ(RtlDrainNonVolatileFlush(region_.token()), STATUS_SUCCESS);
}

TEST_F(ApiTest, WriteWithOverlappingBuffersGivesMemmovesResult) {
  ASSERT_TRUE(region_.ok());
  for (size_t size : {size_t{100}, size_t{5000}, size_t{300000}}) {
    for (long shift : {-33L, 33L, -4096L, 4096L}) {
      SCOPED_TRACE(testing::Message() << "size=" << size << " shift=" << shift);
      const auto init = RandomBytes(size + 8192, static_cast<unsigned>(size));
      unsigned char* area = region_.base() + 8192;
      std::memcpy(area, init.data(), init.size());
      std::vector<unsigned char> expect(init);
      std::memmove(expect.data() + 4096 + shift, expect.data() + 4096, size);
      ASSERT_EQ(RtlWriteNonVolatileMemory(region_.token(), area + 4096 + shift, area + 4096, size,
                                          WRITE_NV_MEMORY_FLAG_FLUSH),
                STATUS_SUCCESS);
      ASSERT_EQ(std::memcmp(area, expect.data(), expect.size()), 0);
    }
  }
}

TEST_F(ApiTest, FillSetsEveryByteAndNothingElse) {
  ASSERT_TRUE(region_.ok());
  for (size_t size : {size_t{1}, size_t{64}, size_t{100}, size_t{300}, size_t{70000}}) {
    for (ULONG flags : {0u, 1u, 2u, 3u, 0x101u}) {
      SCOPED_TRACE(testing::Message() << "size=" << size << " flags=" << flags);
      unsigned char* dst = region_.base() + 4096 + 5;
      std::memset(dst - 5, 0x11, size + 10);
      ASSERT_EQ(RtlFillNonVolatileMemory(region_.token(), dst, size, 0xA5, flags), STATUS_SUCCESS);
      for (size_t i = 0; i < size; ++i) ASSERT_EQ(dst[i], 0xA5) << i;
      for (int i = 1; i <= 5; ++i) {
        ASSERT_EQ(dst[-i], 0x11);
        ASSERT_EQ(dst[size - 1 + i], 0x11);
      }
    }
  }
}

TEST_F(ApiTest, FlushAcceptsUnalignedRangesAndBothDrainModes) {
  ASSERT_TRUE(region_.ok());
  EXPECT_EQ(RtlFlushNonVolatileMemory(region_.token(), region_.base() + 3, 200, 0), STATUS_SUCCESS);
  EXPECT_EQ(RtlFlushNonVolatileMemory(region_.token(), region_.base() + 3, 200,
                                      FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN),
            STATUS_SUCCESS);
  EXPECT_EQ(RtlDrainNonVolatileFlush(region_.token()), STATUS_SUCCESS);
}

TEST_F(ApiTest, FlushCoversEveryTouchedLine) {
  ASSERT_TRUE(region_.ok());
  const nvrtl::FlushKind kind = nvrtl::g_dispatch.flush_kind.load();
  // 2 bytes straddling a line boundary touch two lines; the kernel runs once per call.
  const uint64_t before = nvrtl::FlushExecutionsForTesting(kind);
  EXPECT_EQ(RtlFlushNonVolatileMemory(region_.token(), region_.base() + 63, 2, 0), STATUS_SUCCESS);
  EXPECT_EQ(nvrtl::FlushExecutionsForTesting(kind), before + 1);
}

TEST_F(ApiTest, FlushRangesAllowsOverlapRepeatsAndZeroRanges) {
  ASSERT_TRUE(region_.ok());
  NV_MEMORY_RANGE ranges[] = {{region_.base(), 128},
                              {region_.base() + 64, 128},
                              {region_.base(), 128},
                              {region_.base() + 999, 0}};
  EXPECT_EQ(RtlFlushNonVolatileMemoryRanges(region_.token(), ranges, 4, 0), STATUS_SUCCESS);
  EXPECT_EQ(
      RtlFlushNonVolatileMemoryRanges(region_.token(), ranges, 4, FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN),
      STATUS_SUCCESS);
  EXPECT_EQ(RtlFlushNonVolatileMemoryRanges(region_.token(), nullptr, 0, 0), STATUS_SUCCESS);
}

TEST_F(ApiTest, SizeZeroSucceedsAndTouchesNothing) {
  ASSERT_TRUE(region_.ok());
  region_.base()[0] = 0x5A;
  const unsigned char src = 0x11;
  EXPECT_EQ(RtlWriteNonVolatileMemory(region_.token(), region_.base(), &src, 0, 0), STATUS_SUCCESS);
  EXPECT_EQ(RtlWriteNonVolatileMemory(region_.token(), nullptr, nullptr, 0, 3), STATUS_SUCCESS);
  EXPECT_EQ(RtlFillNonVolatileMemory(region_.token(), region_.base(), 0, 0x11, 1), STATUS_SUCCESS);
  EXPECT_EQ(RtlFlushNonVolatileMemory(region_.token(), nullptr, 0, 0), STATUS_SUCCESS);
  EXPECT_EQ(region_.base()[0], 0x5A);
}

TEST_F(ApiTest, DefaultTokenFlushesAnyAddress) {
  std::vector<unsigned char> plain(256, 1);
  // The Windows constant is an integer the API takes as a token.
  auto* token =
      reinterpret_cast<PVOID>(FLUSH_NV_MEMORY_DEFAULT_TOKEN);  // NOLINT(performance-no-int-to-ptr)
  EXPECT_EQ(RtlFlushNonVolatileMemory(token, plain.data(), plain.size(), 0), STATUS_SUCCESS);
  EXPECT_EQ(RtlDrainNonVolatileFlush(token), STATUS_SUCCESS);
  EXPECT_EQ(RtlFillNonVolatileMemory(token, plain.data(), 10, 7, FILL_NV_MEMORY_FLAG_PERSIST),
            STATUS_SUCCESS);
  EXPECT_EQ(plain[9], 7);
  EXPECT_EQ(RtlFreeNonVolatileToken(token), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("FLUSH_NV_MEMORY_DEFAULT_TOKEN cannot be freed"));
}

TEST_F(ApiTest, TokensWorkFromSeveralThreadsAtOnce) {
  ASSERT_TRUE(region_.ok());
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      unsigned char* mine = region_.base() + static_cast<size_t>(t) * (kRegion / 4);
      const auto data = RandomBytes(10000, static_cast<unsigned>(t));
      for (int i = 0; i < 200; ++i) {
        PVOID own = nullptr;
        if (RtlGetNonVolatileToken(mine, kRegion / 4, &own) != STATUS_SUCCESS) ++failures[t];
        if (RtlWriteNonVolatileMemory(region_.token(), mine, data.data(), data.size(),
                                      WRITE_NV_MEMORY_FLAG_FLUSH) != STATUS_SUCCESS ||
            RtlFlushNonVolatileMemory(own, mine, 64, 0) != STATUS_SUCCESS ||
            RtlFreeNonVolatileToken(own) != STATUS_SUCCESS ||
            std::memcmp(mine, data.data(), data.size()) != 0) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST_F(ApiTest, RegisterRejectsOverlapAndUnregisterUnknownBase) {
  ASSERT_TRUE(region_.ok());
  EXPECT_EQ(NvRegisterNonVolatileRange(region_.base() + 4096, 4096), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("range overlaps a registered range"));
  EXPECT_EQ(NvUnregisterNonVolatileRange(region_.base() + 4096), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("no registered range starts at Base"));
}

TEST_F(ApiTest, RegisteredRangeIsMemoryControllerDomain) {
  ASSERT_TRUE(region_.ok());
  ULONG domain = 0;
  ASSERT_EQ(NvQueryPersistenceDomain(region_.token(), &domain), STATUS_SUCCESS);
  EXPECT_EQ(domain, NV_PERSISTENCE_DOMAIN_MEMORY_CONTROLLER);
  EXPECT_EQ(NvQueryPersistenceDomain(region_.token(), nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("Domain is NULL"));
}

TEST(PowerCutTest, ReturnsNotSupportedOutsideTheLab) {
  EXPECT_EQ(NvLabPowerCut(), STATUS_NOT_SUPPORTED);
}

TEST(LastErrorTest, DescribesTheLastFailureOnThisThread) {
  EXPECT_EQ(RtlDrainNonVolatileFlush(nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_STREQ(NvGetLastErrorMessage(), "NvToken is NULL");
  std::string other;
  std::thread([&] { other = NvGetLastErrorMessage(); }).join();
  EXPECT_EQ(other, "");
}

}  // namespace
