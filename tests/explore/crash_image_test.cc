// Crash images: only lines that differ from the initial image, in address order; the index
// deduplicates equal images and never merges different ones, even when their hashes collide.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "nvlab/explore/crash_image.h"
#include "nvlab/explore/crash_state_space.h"

namespace nvlab::explore {
namespace {

LineBytes Filled(uint8_t value) {
  LineBytes line;
  line.fill(value);
  return line;
}

// A space: determined line at 0x1040, undetermined lines at 0x1000 (initial 0; candidates 0, 1)
// and 0x1080 (initial 2; candidates 2, 3, 4).
CrashStateSpace Space() {
  CrashStateSpace space;
  space.determined.push_back({0x1040, Filled(9)});
  UndeterminedLine a;
  a.gpa = 0x1000;
  a.initial = Filled(0);
  a.candidates = {Filled(0), Filled(1)};
  a.sources = {kNoEvent, 0};
  UndeterminedLine b;
  b.gpa = 0x1080;
  b.initial = Filled(2);
  b.candidates = {Filled(2), Filled(3), Filled(4)};
  b.sources = {kNoEvent, 1, 2};
  space.undetermined = {a, b};
  return space;
}

TEST(CrashImageTest, HoldsTheLinesThatDifferFromTheInitialImageInOrder) {
  const CrashStateSpace space = Space();
  const CrashImage none = MakeCrashImage(space, {0, 0});
  ASSERT_EQ(none.lines.size(), 1u);
  EXPECT_EQ(none.lines[0].gpa, 0x1040u);
  const CrashImage both = MakeCrashImage(space, {1, 2});
  ASSERT_EQ(both.lines.size(), 3u);
  EXPECT_EQ(both.lines[0], (ImageLine{0x1000, Filled(1)}));
  EXPECT_EQ(both.lines[1], (ImageLine{0x1040, Filled(9)}));
  EXPECT_EQ(both.lines[2], (ImageLine{0x1080, Filled(4)}));
  EXPECT_NE(none.hash, both.hash);
  std::vector<uint64_t> lines;
  space.ForEachLine({1, 2}, [&](uint64_t gpa, const LineBytes&) { lines.push_back(gpa); });
  EXPECT_EQ(lines, (std::vector<uint64_t>{0x1000, 0x1040, 0x1080}));
}

TEST(CrashImageTest, IndexDeduplicatesEqualImages) {
  const CrashStateSpace space = Space();
  CrashImageIndex index;
  EXPECT_EQ(index.Insert(MakeCrashImage(space, {1, 1})), (std::pair<size_t, bool>{0, true}));
  EXPECT_EQ(index.Insert(MakeCrashImage(space, {0, 1})), (std::pair<size_t, bool>{1, true}));
  EXPECT_EQ(index.Insert(MakeCrashImage(space, {1, 1})), (std::pair<size_t, bool>{0, false}));
  // The same image from another crash point's space: the same entry.
  CrashStateSpace later = Space();
  later.crash_point = 7;
  later.undetermined.erase(later.undetermined.begin());
  later.determined.insert(later.determined.begin(), {0x1000, Filled(1)});
  EXPECT_EQ(index.Insert(MakeCrashImage(later, {1})), (std::pair<size_t, bool>{0, false}));
  EXPECT_EQ(index.size(), 2u);
}

TEST(CrashImageTest, CollidingHashesNeverMergeDifferentImages) {
  const CrashStateSpace space = Space();
  auto constant = [](const std::vector<ImageLine>&) { return uint64_t{42}; };
  CrashImageIndex index;
  size_t inserted = 0;
  for (uint32_t a = 0; a < 2; ++a) {
    for (uint32_t b = 0; b < 3; ++b) {
      EXPECT_TRUE(index.Insert(MakeCrashImage(space, {a, b}, constant)).second);
      ++inserted;
    }
  }
  EXPECT_EQ(index.size(), inserted);
  for (uint32_t a = 0; a < 2; ++a) {
    for (uint32_t b = 0; b < 3; ++b) {
      const auto [position, fresh] = index.Insert(MakeCrashImage(space, {a, b}, constant));
      EXPECT_FALSE(fresh);
      EXPECT_EQ(position, a * 3 + b);
    }
  }
}

}  // namespace
}  // namespace nvlab::explore
