// Cross-check with the persistence model itself (nvlab::model::PersistenceDomain): for random
// synthetic event streams, at every crash point, every image the model's power cut leaves with
// the random policy (many seeds) is one of the enumerated crash states, the lose policy leaves
// candidate 0 of every line, and the keep policy one of the states too.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "nvlab/explore/crash_replay.h"
#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/recording.h"
#include "nvlab/explore/seeded_random.h"
#include "nvlab/model/persistence_domain.h"
#include "random_recording.h"

namespace nvlab::explore {
namespace {

using model::CutPolicy;
using model::Platform;

constexpr uint64_t kBase = kRandomRecordingBase;
constexpr uint64_t kLines = 4;  // Few lines: events pile up on each.
constexpr uint64_t kSize = kLines * kLineBytes;

// Events is RandomRecording (random_recording.h) over this file's kLines lines.
Recording Events(uint64_t seed, size_t events) {
  return RandomRecording(seed, events, kLines, EventMix{});
}

// ModelImage runs events [0, point) through the model and cuts with `policy`; returns the media.
std::vector<uint8_t> ModelImage(const Recording& r, const std::vector<uint8_t>& initial,
                                uint64_t point, Platform platform, const CutPolicy& policy) {
  std::vector<uint8_t> view = initial;
  model::PersistenceDomain domain;
  EXPECT_EQ(domain.AddNvdimm(kBase, kSize, view.data()), model::ModelStatus::kOk);
  for (uint64_t i = 0; i < point; ++i) {
    const RecordedEvent& e = r.events[i];
    switch (e.kind) {
      case EventKind::kStore:
        if (e.non_temporal) {
          domain.NtStore(e.cpu, e.gpa, e.size, e.bytes.data());
        } else {
          domain.Store(e.cpu, e.gpa, e.size, e.bytes.data());
        }
        break;
      case EventKind::kFlush:
        if (e.flush == FlushKind::kClflush) {
          domain.Clflush(e.cpu, e.gpa);
        } else {
          domain.FlushOpt(e.cpu, e.gpa);
        }
        break;
      case EventKind::kFence:
        domain.Fence(e.cpu);
        break;
      case EventKind::kWbinvd:
        domain.Wbinvd(e.cpu);
        break;
    }
  }
  domain.PowerCut(platform, policy, 0);
  const uint8_t* media = domain.nvdimm(0).media();
  return std::vector<uint8_t>(media, media + kSize);
}

// ChoicesOf finds the state whose image is `image`: false when it is none of them.
bool ChoicesOf(const CrashStateSpace& space, const std::vector<uint8_t>& initial,
               const std::vector<uint8_t>& image, StateChoices* choices) {
  choices->assign(space.undetermined.size(), 0);
  for (uint64_t line = kBase; line < kBase + kSize; line += kLineBytes) {
    LineBytes content;
    std::memcpy(content.data(), image.data() + (line - kBase), kLineBytes);
    if (int64_t u = space.UndeterminedIndex(line); u >= 0) {
      const auto& candidates = space.undetermined[u].candidates;
      bool found = false;
      for (size_t c = 0; c < candidates.size(); ++c) {
        if (candidates[c] == content) {
          (*choices)[u] = static_cast<uint32_t>(c);
          found = true;
        }
      }
      if (!found) return false;
      continue;
    }
    LineBytes expected;
    std::memcpy(expected.data(), initial.data() + (line - kBase), kLineBytes);
    for (const DeterminedLine& d : space.determined) {
      if (d.gpa == line) expected = d.content;
    }
    if (content != expected) return false;
  }
  return true;
}

class ModelCrossCheckTest : public ::testing::TestWithParam<Platform> {};

TEST_P(ModelCrossCheckTest, EveryImageTheModelLeavesIsAnEnumeratedState) {
  const Platform platform = GetParam();
  uint64_t images_checked = 0;
  uint64_t undetermined_seen = 0;
  for (uint64_t stream = 1; stream <= 60; ++stream) {
    const Recording r = Events(stream, 40);
    std::vector<uint8_t> initial(kSize);
    SeededRandom fill(stream * 7919);
    for (uint8_t& b : initial) b = fill.Below(3) == 0 ? static_cast<uint8_t>(fill.Next()) : 0;
    std::unique_ptr<CrashReplay> replay;
    ASSERT_TRUE(CrashReplay::Create(&r, platform, {initial}, &replay).ok());
    for (uint64_t point = 0; point <= r.events.size(); ++point) {
      ASSERT_TRUE(replay->AdvanceTo(point).ok());
      CrashStateSpace space;
      ASSERT_TRUE(replay->BuildSpace(SpaceLimits(), &space).ok());
      undetermined_seen += space.undetermined.size();
      for (const UndeterminedLine& line : space.undetermined) {
        ASSERT_EQ(line.sources.size(), line.candidates.size());
        for (size_t c = 1; c < line.sources.size(); ++c) {
          EXPECT_LT(line.sources[c], point) << "every later candidate names an event that ran";
        }
      }
      StateChoices choices;
      // lose: exactly what the platform guarantees, candidate 0 everywhere.
      ASSERT_TRUE(ChoicesOf(space, initial,
                            ModelImage(r, initial, point, platform, CutPolicy::Lose()), &choices))
          << "stream " << stream << " point " << point << " lose";
      EXPECT_EQ(choices, StateChoices(space.undetermined.size(), 0))
          << "stream " << stream << " point " << point;
      ASSERT_TRUE(ChoicesOf(space, initial,
                            ModelImage(r, initial, point, platform, CutPolicy::Keep()), &choices))
          << "stream " << stream << " point " << point << " keep";
      for (uint64_t seed = 1; seed <= 16; ++seed) {
        const CutPolicy policy = CutPolicy::Random(seed * 1000003 + point, 0.5);
        ASSERT_TRUE(
            ChoicesOf(space, initial, ModelImage(r, initial, point, platform, policy), &choices))
            << "stream " << stream << " point " << point << " random seed " << policy.seed;
        ++images_checked;
      }
    }
  }
  EXPECT_GT(images_checked, 10000u);
  EXPECT_GT(undetermined_seen, 1000u);  // The streams do leave lines undetermined.
}

INSTANTIATE_TEST_SUITE_P(Platforms, ModelCrossCheckTest,
                         ::testing::Values(Platform::kAdr, Platform::kEadr),
                         [](const ::testing::TestParamInfo<Platform>& info) {
                           return std::string(model::PlatformName(info.param));
                         });

}  // namespace
}  // namespace nvlab::explore
