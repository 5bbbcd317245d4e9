// Crash points: the --crash-points grammar (parsed strictly) and the points each form gives on
// a recording; `fences` finds the fences that order NVDIMM writes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nvlab/explore/crash_points.h"
#include "nvlab/explore/recording.h"

namespace nvlab::explore {
namespace {

constexpr uint64_t kBase = 0x100000000;
using Points = std::vector<uint64_t>;

Recording WithEvents(std::vector<RecordedEvent> events) {
  Recording r;
  r.nvdimms.push_back({kBase, 1 << 16, ""});
  r.events = std::move(events);
  return r;
}

RecordedEvent StoreAt(uint64_t offset, uint32_t cpu = 0, bool nt = false) {
  const uint64_t value = 1;
  return RecordedEvent::Store(cpu, kBase + offset, &value, 8, nt);
}

Points Resolve(const std::string& text, const Recording& r, uint64_t seed = 0) {
  CrashPointSpec spec;
  Status status = ParseCrashPointSpec(text, &spec);
  EXPECT_TRUE(status.ok()) << text << ": " << status.ToString();
  Points points;
  status = ResolveCrashPoints(spec, r, seed, &points);
  EXPECT_TRUE(status.ok()) << text << ": " << status.ToString();
  return points;
}

TEST(CrashPointsTest, GrammarAccepts) {
  struct Case {
    const char* text;
    CrashPointSpec::Kind kind;
    uint64_t n;
    Points list;
  };
  const Case cases[] = {
      {"fences", CrashPointSpec::Kind::kFences, 0, {}},
      {"end", CrashPointSpec::Kind::kEnd, 0, {}},
      {"every:1", CrashPointSpec::Kind::kEvery, 1, {}},
      {"every:010", CrashPointSpec::Kind::kEvery, 10, {}},
      {"sample:18446744073709551615", CrashPointSpec::Kind::kSample, ~uint64_t{0}, {}},
      {"0", CrashPointSpec::Kind::kList, 0, {0}},
      {"12,40,end", CrashPointSpec::Kind::kList, 0, {12, 40, CrashPointSpec::kEndOfRecording}},
      {"5,3,5", CrashPointSpec::Kind::kList, 0, {5, 3, 5}},
  };
  for (const Case& c : cases) {
    CrashPointSpec spec;
    ASSERT_TRUE(ParseCrashPointSpec(c.text, &spec).ok()) << c.text;
    EXPECT_EQ(spec.kind, c.kind) << c.text;
    EXPECT_EQ(spec.n, c.n) << c.text;
    EXPECT_EQ(spec.list, c.list) << c.text;
  }
}

TEST(CrashPointsTest, GrammarRejects) {
  const char* cases[] = {
      "",           "Fences",   "fences ",  " end",     "every",
      "every:",     "every:0",  "every:-1", "every:+2", "every:1e3",
      "every:0x10", "sample:0", "sample:",  "sample:a", "every:18446744073709551616",
      ",",          "1,",       ",1",       "1,,2",     "1, 2",
      "-1",         "end,end2", "1.5",      "fence",    "18446744073709551615",
      "every:2:3",  "random:1"};
  for (const char* text : cases) {
    CrashPointSpec spec;
    spec.n = 77;
    Status status = ParseCrashPointSpec(text, &spec);
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument) << "'" << text << "'";
    EXPECT_NE(status.message().find("expected fences, end"), std::string::npos) << text;
    EXPECT_EQ(spec.n, 77u) << "unchanged on failure: " << text;
  }
}

// fences: before each fence whose vCPU has CLWB/CLFLUSHOPT write-backs or NT stores pending,
// and the end; not a fence with nothing pending, nor one on another vCPU; CLFLUSH needs none.
TEST(CrashPointsTest, FencesThatOrderWrites) {
  const Recording r = WithEvents({
      StoreAt(0),                                              // 0
      RecordedEvent::Fence(0),                                 // 1: nothing pending
      RecordedEvent::Flush(0, kBase, FlushKind::kClwb),        // 2
      RecordedEvent::Fence(1),                                 // 3: CPU 1 has nothing
      RecordedEvent::Fence(0, FenceKind::kLocked),             // 4: orders the CLWB
      RecordedEvent::Fence(0),                                 // 5: nothing left
      StoreAt(64, 1, /*nt=*/true),                             // 6
      RecordedEvent::Fence(1, FenceKind::kSerializing),        // 7: orders the NT store
      RecordedEvent::Flush(0, kBase, FlushKind::kClflush),     // 8
      RecordedEvent::Fence(0),                                 // 9: CLFLUSH needs no fence
      RecordedEvent::Flush(2, kBase, FlushKind::kClflushopt),  // 10
      RecordedEvent::Wbinvd(2),                                // 11: orders it
      RecordedEvent::Wbinvd(0),                                // 12: nothing stored since
      StoreAt(128),                                            // 13
      RecordedEvent::Wbinvd(1),                                // 14: a dirty line to write back
  });
  EXPECT_EQ(FenceCrashPoints(r), (Points{4, 7, 11, 14, 15}));
  EXPECT_EQ(Resolve("fences", r), (Points{4, 7, 11, 14, 15}));
  EXPECT_EQ(FenceCrashPoints(WithEvents({})), (Points{0}));
}

TEST(CrashPointsTest, EndEveryAndLists) {
  std::vector<RecordedEvent> events(10, RecordedEvent::Fence(0));
  const Recording r = WithEvents(events);
  EXPECT_EQ(Resolve("end", r), (Points{10}));
  EXPECT_EQ(Resolve("every:3", r), (Points{3, 6, 9, 10}));
  EXPECT_EQ(Resolve("every:5", r), (Points{5, 10}));
  EXPECT_EQ(Resolve("every:11", r), (Points{10}));
  EXPECT_EQ(Resolve("every:18446744073709551615", r), (Points{10}));
  EXPECT_EQ(Resolve("7,0,end,7,10", r), (Points{0, 7, 10}));
  CrashPointSpec spec;
  ASSERT_TRUE(ParseCrashPointSpec("3,11", &spec).ok());
  Points points;
  Status past = ResolveCrashPoints(spec, r, 0, &points);
  EXPECT_EQ(past.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(past.message().find("crash point 11 is past the recording's 10 events"),
            std::string::npos);
}

TEST(CrashPointsTest, SamplesAreSeededDistinctAndInRange) {
  std::vector<RecordedEvent> events(1000, RecordedEvent::Fence(0));
  const Recording r = WithEvents(events);
  const Points a = Resolve("sample:20", r, 42);
  EXPECT_EQ(a, Resolve("sample:20", r, 42));
  EXPECT_NE(a, Resolve("sample:20", r, 43));
  ASSERT_EQ(a.size(), 20u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_GE(a[i], 1u);
    EXPECT_LE(a[i], 1000u);
    if (i > 0) {
      EXPECT_LT(a[i - 1], a[i]);
    }
  }
  // As many points as events or more: all of them.
  Points all;
  for (uint64_t k = 1; k <= 1000; ++k) all.push_back(k);
  EXPECT_EQ(Resolve("sample:1000", r), all);
  EXPECT_EQ(Resolve("sample:5000", r), all);
  EXPECT_EQ(Resolve("sample:999", r, 7).size(), 999u);
  EXPECT_EQ(Resolve("sample:3", WithEvents({})), (Points{0}));
}

}  // namespace
}  // namespace nvlab::explore
