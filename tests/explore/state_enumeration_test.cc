// Counting and enumerating crash states: saturating counts, the exhaustive mixed-radix
// iterator, StateAt, and the seeded bounded sample with its count of states not tried.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/state_count.h"
#include "nvlab/explore/state_iterator.h"
#include "nvlab/explore/state_sample.h"

namespace nvlab::explore {
namespace {

// SpaceWith builds a space whose undetermined lines have the given candidate counts.
CrashStateSpace SpaceWith(const std::vector<size_t>& radixes) {
  CrashStateSpace space;
  for (size_t i = 0; i < radixes.size(); ++i) {
    UndeterminedLine line;
    line.gpa = 0x100000000 + i * kLineBytes;
    for (size_t c = 0; c < radixes[i]; ++c) {
      LineBytes content{};
      content[0] = static_cast<uint8_t>(c);
      line.candidates.push_back(content);
      line.sources.push_back(c == 0 ? kNoEvent : c);
    }
    space.undetermined.push_back(line);
  }
  return space;
}

TEST(StateCountTest, SaturatesInsteadOfWrapping) {
  const StateCount max = StateCount::Saturated();
  EXPECT_TRUE(max.saturated());
  EXPECT_EQ((StateCount(1ULL << 32) * StateCount(1ULL << 32)), max);
  EXPECT_EQ((StateCount(1ULL << 32) * StateCount((1ULL << 32) - 1)).value(),
            (1ULL << 32) * ((1ULL << 32) - 1));
  EXPECT_EQ(StateCount(~uint64_t{0} - 1) + StateCount(1), max);
  EXPECT_EQ(StateCount(~uint64_t{0} - 1) + StateCount(2), max);
  EXPECT_EQ(max * StateCount(0), StateCount(0));
  EXPECT_EQ(max - StateCount(5), max);
  EXPECT_EQ(StateCount(5) - StateCount(7), StateCount(0));
  EXPECT_EQ(StateCount(12).ToString(), "12");
  EXPECT_EQ(max.ToString(), ">= 18446744073709551615");
  // 64 lines of two candidates each: 2^64 states, one more than fits.
  EXPECT_TRUE(SpaceWith(std::vector<size_t>(64, 2)).Count().saturated());
  EXPECT_EQ(SpaceWith(std::vector<size_t>(63, 2)).Count(), StateCount(1ULL << 63));
  EXPECT_EQ(SpaceWith({}).Count(), StateCount(1));
}

TEST(StateIteratorTest, EnumeratesEveryStateOnceInMixedRadixOrder) {
  const CrashStateSpace space = SpaceWith({2, 3, 1, 4});
  StateIterator it(space);
  StateChoices choices;
  std::vector<StateChoices> seen;
  while (it.Next(&choices)) {
    EXPECT_TRUE(space.ValidChoices(choices));
    EXPECT_EQ(choices, StateAt(space, seen.size()));
    seen.push_back(choices);
  }
  EXPECT_FALSE(it.Next(&choices));
  EXPECT_EQ(seen.size(), 24u);
  EXPECT_EQ(std::set<StateChoices>(seen.begin(), seen.end()).size(), 24u);
  EXPECT_EQ(seen.front(), (StateChoices{0, 0, 0, 0}));
  EXPECT_EQ(seen[1], (StateChoices{0, 0, 0, 1}));
  EXPECT_EQ(seen.back(), (StateChoices{1, 2, 0, 3}));

  StateIterator none(SpaceWith({}));
  ASSERT_TRUE(none.Next(&choices));
  EXPECT_TRUE(choices.empty());
  EXPECT_FALSE(none.Next(&choices));
}

TEST(StateSampleTest, AllStatesWithinTheLimit) {
  const CrashStateSpace space = SpaceWith({2, 3, 2});
  const StateSelection selection = SelectStates(space, 12, 1);
  EXPECT_FALSE(selection.sampled);
  EXPECT_EQ(selection.not_tried, StateCount(0));
  ASSERT_EQ(selection.states.size(), 12u);
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(selection.states[i], StateAt(space, i));
}

TEST(StateSampleTest, SeededSampleOfDistinctStates) {
  const CrashStateSpace space = SpaceWith({5, 7, 3, 4});  // 420 states.
  const StateSelection a = SelectStates(space, 100, 9);
  EXPECT_TRUE(a.sampled);
  EXPECT_EQ(a.not_tried, StateCount(320));
  ASSERT_EQ(a.states.size(), 100u);
  EXPECT_EQ(std::set<StateChoices>(a.states.begin(), a.states.end()).size(), 100u);
  for (const StateChoices& choices : a.states) EXPECT_TRUE(space.ValidChoices(choices));
  EXPECT_TRUE(std::is_sorted(a.states.begin(), a.states.end()));
  EXPECT_EQ(SelectStates(space, 100, 9).states, a.states);
  EXPECT_NE(SelectStates(space, 100, 10).states, a.states);
  // One short of everything still samples (and leaves one out).
  const StateSelection most = SelectStates(space, 419, 3);
  EXPECT_EQ(most.states.size(), 419u);
  EXPECT_EQ(most.not_tried, StateCount(1));
  EXPECT_EQ(SelectStates(space, 0, 3).not_tried, StateCount(420));
}

TEST(StateSampleTest, SaturatedSpacesAreSampledToo) {
  const CrashStateSpace space = SpaceWith(std::vector<size_t>(80, 3));
  const StateSelection a = SelectStates(space, 50, 5);
  EXPECT_TRUE(a.sampled);
  EXPECT_TRUE(a.not_tried.saturated());
  ASSERT_EQ(a.states.size(), 50u);
  EXPECT_EQ(std::set<StateChoices>(a.states.begin(), a.states.end()).size(), 50u);
  for (const StateChoices& choices : a.states) EXPECT_TRUE(space.ValidChoices(choices));
  EXPECT_EQ(SelectStates(space, 50, 5).states, a.states);
}

}  // namespace
}  // namespace nvlab::explore
