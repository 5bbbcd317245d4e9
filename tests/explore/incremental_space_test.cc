// CrashReplay::BuildSpace is incremental (it recomputes only the lines changed since its last
// call): at every crash point, in any order of calls with gaps, the space one replay builds is
// the space of a fresh replay's first call at that point, line for line (contents, initial
// contents, candidates and their sources), on ADR and eADR, from zero and non-zero images;
// limits apply to the lines kept from earlier calls too.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nvlab/explore/crash_replay.h"
#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/recording.h"
#include "nvlab/explore/seeded_random.h"
#include "random_recording.h"

namespace nvlab::explore {
namespace {

using model::Platform;

constexpr uint64_t kBase = kRandomRecordingBase;
constexpr uint64_t kLines = 24;  // Enough that most lines sit still between two crash points.
constexpr uint64_t kSize = kLines * kLineBytes;

// Events is RandomRecording (random_recording.h) over this file's kLines lines.
Recording Events(uint64_t seed, size_t events) {
  return RandomRecording(seed, events, kLines, EventMix{50, 78, 99});
}

// ExpectSameSpace compares two spaces line for line.
void ExpectSameSpace(const CrashStateSpace& a, const CrashStateSpace& b, const std::string& where) {
  EXPECT_EQ(a.crash_point, b.crash_point) << where;
  ASSERT_EQ(a.determined.size(), b.determined.size()) << where;
  for (size_t i = 0; i < a.determined.size(); ++i) {
    EXPECT_EQ(a.determined[i].gpa, b.determined[i].gpa) << where;
    EXPECT_EQ(a.determined[i].content, b.determined[i].content) << where;
  }
  ASSERT_EQ(a.undetermined.size(), b.undetermined.size()) << where;
  for (size_t i = 0; i < a.undetermined.size(); ++i) {
    EXPECT_EQ(a.undetermined[i].gpa, b.undetermined[i].gpa) << where;
    EXPECT_EQ(a.undetermined[i].initial, b.undetermined[i].initial) << where;
    EXPECT_EQ(a.undetermined[i].candidates, b.undetermined[i].candidates) << where;
    EXPECT_EQ(a.undetermined[i].sources, b.undetermined[i].sources) << where;
  }
}

// FreshSpace replays [0, point) with a new replay and builds its space once (from scratch).
Status FreshSpace(const Recording& r, Platform platform, std::span<const uint8_t> image,
                  uint64_t point, const SpaceLimits& limits, CrashStateSpace* out) {
  std::unique_ptr<CrashReplay> replay;
  NVLAB_RETURN_IF_ERROR(CrashReplay::Create(&r, platform, {image}, &replay));
  NVLAB_RETURN_IF_ERROR(replay->AdvanceTo(point));
  return replay->BuildSpace(limits, out);
}

class IncrementalSpaceTest : public ::testing::TestWithParam<Platform> {};

TEST_P(IncrementalSpaceTest, EqualsAFreshReplayAtEveryPointAndWithGaps) {
  const Platform platform = GetParam();
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const Recording r = Events(seed, 300);
    std::vector<uint8_t> image;
    if (seed % 2 == 0) {  // Half the runs start from a non-zero image.
      SeededRandom random(seed * 77);
      image.resize(kSize);
      for (uint8_t& b : image) b = static_cast<uint8_t>(random.Next());
    }
    // Every point (seed 1-4), or random gaps of up to 40 events (the others).
    SeededRandom gaps(seed);
    std::unique_ptr<CrashReplay> replay;
    ASSERT_TRUE(CrashReplay::Create(&r, platform, {image}, &replay).ok());
    for (uint64_t point = 0; point <= r.events.size();
         point += seed <= 4 ? 1 : 1 + gaps.Below(40)) {
      ASSERT_TRUE(replay->AdvanceTo(point).ok());
      CrashStateSpace incremental;
      CrashStateSpace fresh;
      ASSERT_TRUE(replay->BuildSpace(SpaceLimits(), &incremental).ok());
      ASSERT_TRUE(FreshSpace(r, platform, image, point, SpaceLimits(), &fresh).ok());
      ExpectSameSpace(incremental, fresh,
                      "seed " + std::to_string(seed) + ", point " + std::to_string(point));
      if (HasFatalFailure()) return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Platforms, IncrementalSpaceTest,
                         ::testing::Values(Platform::kAdr, Platform::kEadr),
                         [](const ::testing::TestParamInfo<Platform>& info) {
                           return std::string(info.param == Platform::kAdr ? "Adr" : "Eadr");
                         });

// A line kept from an earlier call still counts against the limits, and a failed call changes
// nothing: the next call with room builds the same space as a fresh replay.
TEST(IncrementalSpaceLimitsTest, KeptLinesCountAndFailuresChangeNothing) {
  Recording r;
  r.nvdimms.push_back({kBase, kSize, ""});
  for (uint64_t v = 1; v <= 4; ++v) r.events.push_back(RecordedEvent::Store(0, kBase, &v, 8));
  const uint64_t other = 9;
  r.events.push_back(RecordedEvent::Store(0, kBase + kLineBytes, &other, 8));
  std::unique_ptr<CrashReplay> replay;
  ASSERT_TRUE(CrashReplay::Create(&r, Platform::kAdr, {{}}, &replay).ok());
  ASSERT_TRUE(replay->AdvanceTo(4).ok());
  CrashStateSpace space;
  ASSERT_TRUE(replay->BuildSpace(SpaceLimits(), &space).ok());  // line 0: 5 candidates
  ASSERT_EQ(space.undetermined.size(), 1u);
  ASSERT_TRUE(replay->AdvanceTo(5).ok());  // only line 1 changes
  SpaceLimits tight;
  tight.max_line_candidates = 4;
  CrashStateSpace unchanged = space;
  const Status status = replay->BuildSpace(tight, &unchanged);
  EXPECT_EQ(status.code(), Status::Code::kNotSupported) << status.ToString();
  EXPECT_EQ(unchanged.crash_point, 4u);  // *out untouched
  CrashStateSpace fresh;
  EXPECT_EQ(FreshSpace(r, Platform::kAdr, {}, 5, tight, &fresh).code(),
            Status::Code::kNotSupported);
  ASSERT_TRUE(replay->BuildSpace(SpaceLimits(), &space).ok());
  ASSERT_TRUE(FreshSpace(r, Platform::kAdr, {}, 5, SpaceLimits(), &fresh).ok());
  ExpectSameSpace(space, fresh, "after a failed call");
  EXPECT_EQ(space.undetermined.size(), 2u);
}

}  // namespace
}  // namespace nvlab::explore
