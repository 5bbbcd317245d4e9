// verifier_test.cc -- the verifier reports exactly the ranges written and not made durable.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "last_error_contains.h"
#include "nvrtl/nvrtl.h"
#include "test_region.h"

namespace {

struct Seen {
  size_t offset;
  size_t length;
  bool operator==(const Seen& o) const { return offset == o.offset && length == o.length; }
};

std::mutex g_seen_mutex;
std::vector<Seen> g_seen;

void Record(PVOID, PVOID, SIZE_T offset, SIZE_T length, PVOID) {
  std::lock_guard<std::mutex> lock(g_seen_mutex);
  g_seen.push_back({offset, length});
}

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(NvEnableVerifier(1), STATUS_SUCCESS);
    ASSERT_EQ(NvSetVerifierCallback(Record, nullptr), STATUS_SUCCESS);
    g_seen.clear();
    region_ = std::make_unique<TestRegion>(1 << 20);
    ASSERT_TRUE(region_->ok());
  }
  void TearDown() override {
    region_.reset();
    NvSetVerifierCallback(nullptr, nullptr);
    NvEnableVerifier(0);
  }
  // FreeAndCapture -- frees the token, returning stderr's lines that mention "unflushed".
  std::vector<std::string> FreeAndCapture() {
    testing::internal::CaptureStderr();
    EXPECT_EQ(region_->Release(), STATUS_SUCCESS);
    const std::string err = testing::internal::GetCapturedStderr();
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < err.size()) {
      size_t end = err.find('\n', start);
      if (end == std::string::npos) end = err.size();
      std::string line = err.substr(start, end - start);
      if (line.find("unflushed") != std::string::npos) lines.push_back(line);
      start = end + 1;
    }
    return lines;
  }
  PVOID token() { return region_->token(); }
  unsigned char* base() { return region_->base(); }
  std::unique_ptr<TestRegion> region_;
};

const std::regex kLine(R"(^nvrtl: unflushed offset=0x([0-9a-f]+) length=([0-9]+)( at .+)?$)");

TEST_F(VerifierTest, ReportsForgottenFlushWithExactOffsetAndLength) {
  const char data[100] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 0x40, data, 100, 0), STATUS_SUCCESS);
  const auto lines = FreeAndCapture();
  ASSERT_EQ(lines.size(), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kLine)) << lines[0];
  EXPECT_EQ(m[1], "40");
  EXPECT_EQ(m[2], "100");
  EXPECT_EQ(g_seen, (std::vector<Seen>{{0x40, 100}}));
}

TEST_F(VerifierTest, FlushedAndDrainedWriteIsNotReported) {
  const char data[300] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 10, data, 300, 0), STATUS_SUCCESS);
  ASSERT_EQ(RtlFlushNonVolatileMemory(token(), base() + 10, 300, 0), STATUS_SUCCESS);
  ASSERT_EQ(
      RtlWriteNonVolatileMemory(token(), base() + 1000, data, 300, WRITE_NV_MEMORY_FLAG_PERSIST),
      STATUS_SUCCESS);
  ASSERT_EQ(
      RtlWriteNonVolatileMemory(token(), base() + 2000, data, 300, WRITE_NV_MEMORY_FLAG_FLUSH),
      STATUS_SUCCESS);
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 3000, data, 300,
                                      WRITE_NV_MEMORY_FLAG_NON_TEMPORAL),
            STATUS_SUCCESS);
  EXPECT_TRUE(FreeAndCapture().empty());
  EXPECT_TRUE(g_seen.empty());
}

TEST_F(VerifierTest, PartialFlushReportsOnlyTheRemainder) {
  const char data[256] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base(), data, 256, 0), STATUS_SUCCESS);
  ASSERT_EQ(RtlFlushNonVolatileMemory(token(), base() + 64, 128, 0), STATUS_SUCCESS);
  FreeAndCapture();
  EXPECT_EQ(g_seen, (std::vector<Seen>{{0, 64}, {192, 64}}));
}

TEST_F(VerifierTest, NoDrainFlushWithoutDrainIsStillReported) {
  const char data[64] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 128, data, 64, 0), STATUS_SUCCESS);
  ASSERT_EQ(RtlFlushNonVolatileMemory(token(), base() + 128, 64, FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN),
            STATUS_SUCCESS);
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 512, data, 64,
                                      WRITE_NV_MEMORY_FLAG_FLUSH | WRITE_NV_MEMORY_FLAG_NO_DRAIN),
            STATUS_SUCCESS);
  FreeAndCapture();
  EXPECT_EQ(g_seen, (std::vector<Seen>{{128, 64}, {512, 64}}));
}

TEST_F(VerifierTest, NoDrainFlushFollowedByDrainIsNotReported) {
  const char data[64] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 128, data, 64, 0), STATUS_SUCCESS);
  NV_MEMORY_RANGE range{base() + 128, 64};
  ASSERT_EQ(RtlFlushNonVolatileMemoryRanges(token(), &range, 1, FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN),
            STATUS_SUCCESS);
  ASSERT_EQ(RtlDrainNonVolatileFlush(token()), STATUS_SUCCESS);
  EXPECT_TRUE(FreeAndCapture().empty());
}

TEST_F(VerifierTest, AnotherThreadsDrainDoesNotCompleteThisThreadsFlush) {
  const char data[64] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base(), data, 64, 0), STATUS_SUCCESS);
  ASSERT_EQ(RtlFlushNonVolatileMemory(token(), base(), 64, FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN),
            STATUS_SUCCESS);
  std::thread([&] { EXPECT_EQ(RtlDrainNonVolatileFlush(token()), STATUS_SUCCESS); }).join();
  FreeAndCapture();
  EXPECT_EQ(g_seen, (std::vector<Seen>{{0, 64}}));
}

TEST_F(VerifierTest, FillsAreTrackedLikeWrites) {
  ASSERT_EQ(RtlFillNonVolatileMemory(token(), base() + 4096, 5000, 7, 0), STATUS_SUCCESS);
  ASSERT_EQ(RtlFillNonVolatileMemory(token(), base() + 20000, 100, 7, FILL_NV_MEMORY_FLAG_FLUSH),
            STATUS_SUCCESS);
  FreeAndCapture();
  EXPECT_EQ(g_seen, (std::vector<Seen>{{4096, 5000}}));
}

TEST_F(VerifierTest, AdjacentRangesAreMergedIntoOneLine) {
  const char data[100] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base(), data, 100, 0), STATUS_SUCCESS);
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 100, data, 100, 0), STATUS_SUCCESS);
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 50, data, 100, 0), STATUS_SUCCESS);
  const auto lines = FreeAndCapture();
  EXPECT_EQ(lines.size(), 1u);
  EXPECT_EQ(g_seen, (std::vector<Seen>{{0, 200}}));
}

TEST_F(VerifierTest, OffsetsAreRelativeToEachTokensBuffer) {
  PVOID inner = nullptr;
  ASSERT_EQ(RtlGetNonVolatileToken(base() + 8192, 4096, &inner), STATUS_SUCCESS);
  const char data[10] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(inner, base() + 8192 + 0x30, data, 10, 0), STATUS_SUCCESS);
  testing::internal::CaptureStderr();
  ASSERT_EQ(RtlFreeNonVolatileToken(inner), STATUS_SUCCESS);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("unflushed offset=0x30 length=10"), std::string::npos) << err;
  EXPECT_TRUE(FreeAndCapture().empty());  // the outer token saw nothing
}

TEST_F(VerifierTest, SeveralThreadsEachForgettingOneRangeAreAllReported) {
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const char data[64] = {1};
      for (int i = 0; i < 50; ++i) {
        unsigned char* at = base() + (static_cast<size_t>(t) * 100 + static_cast<size_t>(i)) * 128;
        EXPECT_EQ(RtlWriteNonVolatileMemory(token(), at, data, 64, 0), STATUS_SUCCESS);
        if (i != 7) {
          EXPECT_EQ(RtlFlushNonVolatileMemory(token(), at, 64, 0), STATUS_SUCCESS);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  FreeAndCapture();
  std::vector<Seen> want;
  for (size_t t = 0; t < 4; ++t) want.push_back({(t * 100 + 7) * 128, 64});
  EXPECT_EQ(g_seen, want);
}

TEST_F(VerifierTest, ReportFileGetsOneJsonLinePerRange) {
  char path[] = "/tmp/nvrtl-verifier-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_EQ(NvSetVerifierReportFile(path), STATUS_SUCCESS);
  const char data[8] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 64, data, 8, 0), STATUS_SUCCESS);
  ASSERT_EQ(RtlWriteNonVolatileMemory(token(), base() + 4096, data, 8, 0), STATUS_SUCCESS);
  FreeAndCapture();
  ASSERT_EQ(NvSetVerifierReportFile(nullptr), STATUS_SUCCESS);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  (void)std::remove(path);
  ASSERT_EQ(lines.size(), 2u);
  const std::regex json(
      R"(^\{"event":"unflushed","token":"0x[0-9a-f]+","offset":(\d+),"length":(\d+),"call_site":"0x[0-9a-f]+"\}$)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, json)) << lines[0];
  EXPECT_EQ(m[1], "64");
  ASSERT_TRUE(std::regex_match(lines[1], m, json)) << lines[1];
  EXPECT_EQ(m[1], "4096");
  EXPECT_EQ(m[2], "8");
}

TEST_F(VerifierTest, ReportFileThatCannotBeOpenedIsAccessDenied) {
  EXPECT_EQ(NvSetVerifierReportFile("/nonexistent-dir/x.jsonl"), STATUS_ACCESS_DENIED);
  EXPECT_TRUE(LastErrorContains("cannot open verifier report file /nonexistent-dir/x.jsonl"));
}

TEST(VerifierOffTest, TokensCreatedWhileDisabledReportNothing) {
  NvEnableVerifier(0);
  TestRegion region(1 << 16);
  ASSERT_TRUE(region.ok());
  const char data[8] = {1};
  ASSERT_EQ(RtlWriteNonVolatileMemory(region.token(), region.base(), data, 8, 0), STATUS_SUCCESS);
  testing::internal::CaptureStderr();
  EXPECT_EQ(region.Release(), STATUS_SUCCESS);
  EXPECT_EQ(testing::internal::GetCapturedStderr().find("unflushed"), std::string::npos);
}

}  // namespace
