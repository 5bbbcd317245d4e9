// LineWatchSet: first-read order, each line once, reads split across lines, clipping, Clear.
#include "line_watch_set.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace nvlab::plugin {
namespace {

using Line = LineWatchSet::Line;
constexpr uint64_t kLine = 64;

TEST(LineWatchSetTest, KeepsTheOrderOfFirstReadsOnceEach) {
  LineWatchSet set({4096, 1 << 20});
  set.Add(0, 5 * kLine, 8);
  set.Add(1, 2 * kLine + 3, 1);
  set.Add(0, 5 * kLine + 56, 8);  // Line 5 again.
  set.Add(0, 9 * kLine + 60, 8);  // Split: lines 9 and 10.
  set.Add(0, 0, 16);
  EXPECT_EQ(set.lines(), (std::vector<Line>{{0, 5}, {1, 2}, {0, 9}, {0, 10}, {0, 0}}));
  EXPECT_EQ(set.Format(), "0 5\n1 2\n0 9\n0 10\n0 0\n");
}

TEST(LineWatchSetTest, ClipsToTheNvdimmAndIgnoresWhatIsOutside) {
  LineWatchSet set({4096});
  set.Add(0, 4096 - 4, 8);  // The last line only.
  set.Add(0, 4096, 8);      // Past the end.
  set.Add(1, 0, 8);         // No such NVDIMM.
  set.Add(0, 128, 0);       // Empty.
  EXPECT_EQ(set.lines(), (std::vector<Line>{{0, 63}}));
}

TEST(LineWatchSetTest, ClearStartsAfresh) {
  LineWatchSet set({4096});
  set.Add(0, 64, 8);
  set.Add(0, 0, 8);
  set.Clear();
  EXPECT_TRUE(set.lines().empty());
  EXPECT_EQ(set.Format(), "");
  set.Add(0, 0, 8);
  set.Add(0, 64, 8);
  EXPECT_EQ(set.lines(), (std::vector<Line>{{0, 0}, {0, 1}}));
}

}  // namespace
}  // namespace nvlab::plugin
