// The lazy explorer: pruning is sound (pruned and exhaustive exploration give the same verdict
// and the same failing images, on a publish-before-persist recording and on many random
// value-dependent checks), counts add up (visited + pruned + not tried = states), budgets and
// samples, determinism, images checked once across crash points, and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "nvlab/explore/crash_image.h"
#include "nvlab/explore/crash_replay.h"
#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/lazy_explorer.h"
#include "nvlab/explore/recording.h"
#include "nvlab/explore/seeded_random.h"
#include "nvlab/explore/state_iterator.h"

namespace nvlab::explore {
namespace {

constexpr uint64_t kBase = 0x100000000;

// LineIn returns what `image` holds at the line of gpa: its own line, else the space's initial
// content (zeroes for lines the space does not know).
LineBytes LineIn(const CrashImage& image, const CrashStateSpace& space, uint64_t gpa) {
  const uint64_t line = gpa & ~(kLineBytes - 1);
  for (const ImageLine& l : image.lines) {
    if (l.gpa == line) return l.content;
  }
  if (int64_t u = space.UndeterminedIndex(line); u >= 0) return space.undetermined[u].initial;
  return LineBytes{};
}

uint64_t WordIn(const CrashImage& image, const CrashStateSpace& space, uint64_t gpa) {
  const LineBytes line = LineIn(image, space, gpa);
  uint64_t value = 0;
  std::memcpy(&value, line.data() + gpa % kLineBytes, sizeof value);
  return value;
}

// Expand lists every state a failure stands for.
std::set<StateChoices> Expand(const CrashStateSpace& space, const ExploreFailure& failure) {
  if (failure.pinned.size() == space.undetermined.size()) return {failure.choices};
  std::set<StateChoices> states;
  StateIterator it(space);
  StateChoices choices;
  while (it.Next(&choices)) {
    bool agrees = true;
    for (size_t line : failure.pinned) agrees = agrees && choices[line] == failure.choices[line];
    if (agrees) states.insert(choices);
  }
  return states;
}

std::set<StateChoices> FailingStates(const CrashStateSpace& space, const CrashPointResult& result) {
  std::set<StateChoices> states;
  for (const ExploreFailure& failure : result.failures) {
    const std::set<StateChoices> expanded = Expand(space, failure);
    EXPECT_EQ(StateCount(expanded.size()), failure.represented);
    states.insert(expanded.begin(), expanded.end());
  }
  return states;
}

void ExpectCountsAddUp(const CrashPointResult& result) {
  EXPECT_EQ(StateCount(result.visited) + result.pruned + result.not_tried, result.states);
}

CrashPointResult ExploreOnce(const CrashStateSpace& space, const CheckFunction& check, bool prune,
                             uint64_t max_checks = ~uint64_t{0}, uint64_t seed = 0) {
  ExploreOptions options;
  options.prune = prune;
  options.max_checks = max_checks;
  options.seed = seed;
  options.max_failures_listed = ~size_t{0};
  LazyExplorer explorer(options, check);
  CrashPointResult result;
  Status status = explorer.Explore(space, &result);
  EXPECT_TRUE(status.ok()) << status.ToString();
  ExpectCountsAddUp(result);
  return result;
}

// The pointer-swing mutant: data D and pointer P are stored, only P is flushed and fenced
// (publish before persist); ten unrelated lines are left dirty. Recovery reads P and, when it
// is set, D: it fails when P is new and D old.
TEST(LazyExplorerTest, PublishBeforePersistIsFoundWithAndWithoutPruning) {
  constexpr uint64_t kData = kBase + 0x40;
  constexpr uint64_t kPointer = kBase + 0x80;
  for (bool correct : {false, true}) {
    Recording r;
    r.nvdimms.push_back({kBase, 1 << 16, ""});
    const uint64_t data = 0xda7a;
    const uint64_t pointer = kData;
    for (uint64_t i = 0; i < 10; ++i) {
      r.events.push_back(RecordedEvent::Store(0, kBase + 0x1000 + i * 64, &data, 8));
    }
    r.events.push_back(RecordedEvent::Store(0, kData, &data, 8));
    if (correct) {
      r.events.push_back(RecordedEvent::Flush(0, kData, FlushKind::kClwb));
      r.events.push_back(RecordedEvent::Fence(0));
    }
    r.events.push_back(RecordedEvent::Store(0, kPointer, &pointer, 8));
    r.events.push_back(RecordedEvent::Flush(0, kPointer, FlushKind::kClwb));
    std::unique_ptr<CrashReplay> replay;
    ASSERT_TRUE(CrashReplay::Create(&r, model::Platform::kAdr, {{}}, &replay).ok());
    ASSERT_TRUE(replay->AdvanceTo(r.events.size()).ok());  // Before the SFENCE that never came.
    CrashStateSpace space;
    ASSERT_TRUE(replay->BuildSpace(SpaceLimits(), &space).ok());
    ASSERT_EQ(space.Count(), StateCount(correct ? 1ULL << 11 : 1ULL << 12));

    const CheckFunction recovery = [&](const CrashImage& image, CheckResult* result) {
      result->lines_read.push_back(kPointer);
      result->passed = true;
      if (WordIn(image, space, kPointer) == kData) {
        result->lines_read.push_back(kData);
        result->passed = WordIn(image, space, kData) == 0xda7a;
      }
      return Status::Ok();
    };
    const CrashPointResult pruned = ExploreOnce(space, recovery, true);
    const CrashPointResult exhaustive = ExploreOnce(space, recovery, false);
    EXPECT_EQ(pruned.failed_visits == 0, exhaustive.failed_visits == 0);
    EXPECT_EQ(pruned.failed_states, exhaustive.failed_states);
    EXPECT_EQ(FailingStates(space, pruned), FailingStates(space, exhaustive));
    EXPECT_EQ(exhaustive.visited, space.Count().value());
    if (correct) {
      EXPECT_EQ(pruned.failed_visits, 0u);
      EXPECT_EQ(pruned.visited, 2u);  // Pointer old; pointer new (data is determined).
    } else {
      EXPECT_EQ(pruned.visited, 3u);  // Pointer old; new with data old (fails); both new.
      EXPECT_EQ(pruned.failed_visits, 1u);
      EXPECT_EQ(pruned.failed_states, StateCount(1ULL << 10));
      ASSERT_EQ(pruned.failures.size(), 1u);
      const ExploreFailure& failure = pruned.failures[0];
      const int64_t d = space.UndeterminedIndex(kData);
      const int64_t p = space.UndeterminedIndex(kPointer);
      EXPECT_EQ(failure.pinned,
                (std::vector<size_t>{static_cast<size_t>(d), static_cast<size_t>(p)}));
      EXPECT_EQ(failure.choices[d], 0u);
      EXPECT_EQ(failure.choices[p], 1u);
    }
    EXPECT_EQ(pruned.pruned, space.Count() - StateCount(pruned.visited));  // Nothing left.
  }
}

// RandomSpace: 1 to 6 lines of 2 to 4 candidates; candidate c of line i holds c in byte 0.
CrashStateSpace RandomSpace(SeededRandom& random) {
  CrashStateSpace space;
  const size_t lines = 1 + random.Below(6);
  for (size_t i = 0; i < lines; ++i) {
    UndeterminedLine line;
    line.gpa = kBase + i * 2 * kLineBytes;
    const size_t radix = 2 + random.Below(3);
    for (size_t c = 0; c < radix; ++c) {
      LineBytes content{};
      content[0] = static_cast<uint8_t>(c);
      line.candidates.push_back(content);
      line.sources.push_back(c == 0 ? kNoEvent : c);
    }
    space.undetermined.push_back(line);
  }
  return space;
}

// RandomCheck: a deterministic program of the image: it reads lines one after another, the
// next line and whether to go on depending on the values read so far, and its verdict on all
// of them. It may read a line twice and lines the space does not have.
CheckFunction RandomCheck(const CrashStateSpace& space, uint64_t seed) {
  return [&space, seed](const CrashImage& image, CheckResult* result) {
    uint64_t acc = seed * 0x9E3779B97F4A7C15ULL + 1;
    const size_t lines = space.undetermined.size() + 1;  // One more: a line outside the space.
    uint64_t next = acc % lines;
    for (int step = 0; step < 6; ++step) {
      const uint64_t gpa = kBase + next * 2 * kLineBytes + step;  // Any byte names the line.
      result->lines_read.push_back(gpa);
      const uint8_t value = LineIn(image, space, gpa)[0];
      acc = SeededRandom(acc ^ (uint64_t{value} << 32) ^ next).Next();
      if (acc % 5 == 0) break;
      next = (acc >> 8) % lines;
    }
    result->passed = acc % 3 != 0;
    return Status::Ok();
  };
}

// SpaceOfAtLeast returns the first random space with at least `states` states.
CrashStateSpace SpaceOfAtLeast(SeededRandom& random, uint64_t states) {
  CrashStateSpace space;
  do {
    space = RandomSpace(random);
  } while (space.Count().value() < states);
  return space;
}

// ReadingEveryLine is a check that passes and reads every line of the space: nothing to prune.
CheckFunction ReadingEveryLine(const CrashStateSpace& space) {
  return [&space](const CrashImage&, CheckResult* result) {
    for (const UndeterminedLine& line : space.undetermined) result->lines_read.push_back(line.gpa);
    return Status::Ok();
  };
}

TEST(LazyExplorerTest, PruningIsSoundOnRandomChecks) {
  SeededRandom random(2026);
  uint64_t pruned_total = 0;
  for (int round = 0; round < 400; ++round) {
    const CrashStateSpace space = RandomSpace(random);
    const CheckFunction check = RandomCheck(space, random.Next());
    const CrashPointResult pruned = ExploreOnce(space, check, true);
    const CrashPointResult exhaustive = ExploreOnce(space, check, false);
    ASSERT_EQ(pruned.failed_states, exhaustive.failed_states) << "round " << round;
    ASSERT_EQ(FailingStates(space, pruned), FailingStates(space, exhaustive)) << "round " << round;
    EXPECT_LE(pruned.visited, exhaustive.visited);
    pruned_total += pruned.pruned.value();
  }
  EXPECT_GT(pruned_total, 1000u);  // The checks left lines unread often enough to prune.
}

TEST(LazyExplorerTest, SameSpaceAndCheckGiveTheSameExploration) {
  SeededRandom random(7);
  for (int round = 0; round < 50; ++round) {
    const CrashStateSpace space = RandomSpace(random);
    const CheckFunction check = RandomCheck(space, random.Next());
    for (bool prune : {true, false}) {
      const CrashPointResult a = ExploreOnce(space, check, prune, 5, 11);
      const CrashPointResult b = ExploreOnce(space, check, prune, 5, 11);
      EXPECT_EQ(a.visited, b.visited);
      EXPECT_EQ(a.pruned, b.pruned);
      EXPECT_EQ(a.not_tried, b.not_tried);
      ASSERT_EQ(a.failures.size(), b.failures.size());
      for (size_t i = 0; i < a.failures.size(); ++i) {
        EXPECT_EQ(a.failures[i].choices, b.failures[i].choices);
        EXPECT_EQ(a.failures[i].pinned, b.failures[i].pinned);
      }
    }
  }
}

// Batches (several check guests): every node is still visited once, so without a budget the
// counts, verdicts and failing states are those of the sequential search; each call gets
// distinct images not checked before, at most `batch` of them.
TEST(LazyExplorerTest, BatchesGiveTheSequentialResultsAndEachImageOnce) {
  SeededRandom random(31);
  size_t largest_call = 0;
  for (int round = 0; round < 200; ++round) {
    const CrashStateSpace space = RandomSpace(random);
    const CheckFunction check = RandomCheck(space, random.Next());
    for (bool prune : {true, false}) {
      const CrashPointResult sequential = ExploreOnce(space, check, prune);
      for (size_t batch : {size_t{2}, size_t{3}, size_t{8}}) {
        ExploreOptions options;
        options.prune = prune;
        options.batch = batch;
        options.max_failures_listed = ~size_t{0};
        CrashImageIndex checked;
        LazyExplorer explorer(options, [&](std::span<const CrashImage* const> images,
                                           std::vector<CheckResult>* results) {
          EXPECT_LE(images.size(), batch);
          largest_call = std::max(largest_call, images.size());
          results->assign(images.size(), CheckResult());
          for (size_t k = 0; k < images.size(); ++k) {
            EXPECT_TRUE(checked.Insert(*images[k]).second) << "an image checked twice";
            NVLAB_RETURN_IF_ERROR(check(*images[k], &(*results)[k]));
          }
          return Status::Ok();
        });
        CrashPointResult batched;
        ASSERT_TRUE(explorer.Explore(space, &batched).ok());
        ExpectCountsAddUp(batched);
        ASSERT_EQ(batched.visited, sequential.visited) << "round " << round;
        ASSERT_EQ(batched.distinct, sequential.distinct) << "round " << round;
        ASSERT_EQ(batched.pruned, sequential.pruned) << "round " << round;
        ASSERT_EQ(batched.failed_states, sequential.failed_states) << "round " << round;
        ASSERT_EQ(FailingStates(space, batched), FailingStates(space, sequential))
            << "round " << round;
      }
    }
  }
  EXPECT_GT(largest_call, 2u);  // Batches were filled, not run one image at a time.
}

// A budget stops a batched search after exactly that many visits.
TEST(LazyExplorerTest, ABatchedSearchKeepsToTheBudget) {
  SeededRandom random(3);
  const CrashStateSpace space = SpaceOfAtLeast(random, 20);
  const CheckFunction read_all = ReadingEveryLine(space);
  for (bool prune : {true, false}) {
    ExploreOptions options;
    options.prune = prune;
    options.max_checks = 7;
    options.batch = 4;
    LazyExplorer explorer(options, read_all);
    CrashPointResult result;
    ASSERT_TRUE(explorer.Explore(space, &result).ok());
    EXPECT_EQ(result.visited, 7u);
    EXPECT_EQ(result.not_tried, space.Count() - StateCount(7));
  }
}

// A batch check that answers for the wrong number of images stops the exploration.
TEST(LazyExplorerTest, ABatchCheckWithTheWrongNumberOfResultsIsAnError) {
  SeededRandom random(1);
  const CrashStateSpace space = RandomSpace(random);
  ExploreOptions options;
  options.batch = 2;
  LazyExplorer explorer(options,
                        [](std::span<const CrashImage* const>, std::vector<CheckResult>* results) {
                          results->clear();
                          return Status::Ok();
                        });
  CrashPointResult result;
  EXPECT_FALSE(explorer.Explore(space, &result).ok());
}

// A check that reads every line cannot be pruned: the budget stops it and says what is left.
TEST(LazyExplorerTest, BudgetsLeaveStatesNotTried) {
  SeededRandom random(3);
  const CrashStateSpace space = SpaceOfAtLeast(random, 20);
  const CheckFunction read_all = ReadingEveryLine(space);
  const CrashPointResult pruned = ExploreOnce(space, read_all, true, 7);
  EXPECT_EQ(pruned.visited, 7u);
  EXPECT_EQ(pruned.pruned, StateCount(0));
  EXPECT_EQ(pruned.not_tried, space.Count() - StateCount(7));

  const CrashPointResult sample = ExploreOnce(space, read_all, false, 7, 1);
  EXPECT_EQ(sample.visited, 7u);
  EXPECT_EQ(sample.not_tried, space.Count() - StateCount(7));
  // Everything within budget: nothing left.
  const CrashPointResult all = ExploreOnce(space, read_all, true);
  EXPECT_EQ(StateCount(all.visited), space.Count());
  EXPECT_EQ(all.not_tried, StateCount(0));
}

// One explorer over two crash points with the same images: the second runs no check.
TEST(LazyExplorerTest, ImagesAreCheckedOnceAcrossCrashPoints) {
  SeededRandom random(5);
  const CrashStateSpace space = RandomSpace(random);
  uint64_t runs = 0;
  const CheckFunction inner = RandomCheck(space, 99);
  const CheckFunction counting = [&](const CrashImage& image, CheckResult* result) {
    ++runs;
    return inner(image, result);
  };
  for (bool prune : {true, false}) {
    runs = 0;
    LazyExplorer explorer(ExploreOptions{prune}, counting);
    CrashPointResult first;
    CrashPointResult second;
    ASSERT_TRUE(explorer.Explore(space, &first).ok());
    CrashStateSpace again = space;
    again.crash_point = 9;
    ASSERT_TRUE(explorer.Explore(again, &second).ok());
    EXPECT_EQ(first.distinct, first.visited);
    EXPECT_EQ(second.distinct, 0u);
    EXPECT_EQ(second.visited, first.visited);
    EXPECT_EQ(second.failed_states, first.failed_states);
    EXPECT_EQ(runs, first.visited);
    EXPECT_EQ(explorer.totals().crash_points, 2u);
    EXPECT_EQ(explorer.totals().visited, 2 * first.visited);
    EXPECT_EQ(explorer.totals().distinct, first.visited);
    EXPECT_EQ(explorer.totals().states, first.states + second.states);
  }
}

TEST(LazyExplorerTest, ACheckThatCannotRunStopsTheExploration) {
  SeededRandom random(1);
  const CrashStateSpace space = RandomSpace(random);
  LazyExplorer explorer(ExploreOptions{}, [](const CrashImage&, CheckResult*) {
    return Status::GuestDied("the guest went away");
  });
  CrashPointResult result;
  Status status = explorer.Explore(space, &result);
  EXPECT_EQ(status.code(), Status::Code::kGuestDied);
  EXPECT_EQ(explorer.totals().crash_points, 0u);
}

TEST(LazyExplorerTest, FailureListIsCappedButEveryFailureCounted) {
  CrashStateSpace space;
  for (size_t i = 0; i < 3; ++i) {
    UndeterminedLine line;
    line.gpa = kBase + i * kLineBytes;
    line.candidates = {LineBytes{}, LineBytes{1}};
    line.sources = {kNoEvent, i};
    space.undetermined.push_back(line);
  }
  ExploreOptions options;
  options.prune = false;
  options.max_failures_listed = 2;
  LazyExplorer explorer(options, [](const CrashImage&, CheckResult* result) {
    result->passed = false;
    return Status::Ok();
  });
  CrashPointResult result;
  ASSERT_TRUE(explorer.Explore(space, &result).ok());
  EXPECT_EQ(result.failed_visits, 8u);
  EXPECT_EQ(result.failed_states, StateCount(8));
  EXPECT_EQ(result.failures.size(), 2u);
}

}  // namespace
}  // namespace nvlab::explore
