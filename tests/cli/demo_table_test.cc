// demo_table_test.cc -- the demo's table: one reason per row, split by platform only where ADR
// and eADR differ, columns that line up, colour only when asked for.

#include "demo_table.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace nvlab {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

TEST(DemoTableTest, AgreeingPlatformsGetOneReason) {
  const DemoRow row{"flush-drain", true, true};
  EXPECT_EQ(DemoReason(row), "flushed (CLWB) and drained (SFENCE)");
  const DemoRow lost{"write-nt-nodrain", false, false};
  EXPECT_EQ(DemoReason(lost).find("ADR:"), std::string::npos) << DemoReason(lost);
  EXPECT_NE(DemoReason(lost).find("WC buffer"), std::string::npos);
}

TEST(DemoTableTest, DifferingPlatformsGetOneReasonEach) {
  const std::string why = DemoReason(DemoRow{"noflush", false, true});
  EXPECT_EQ(why.rfind("ADR: ", 0), 0u) << why;
  EXPECT_NE(why.find("; eADR: "), std::string::npos) << why;
  EXPECT_NE(why.find("lost with the CPU caches"), std::string::npos) << why;
}

TEST(DemoTableTest, AnOutcomeTheModelWouldNotGiveStillNamesBothPlatforms) {
  // With the model off every record survives, also the never-flushed one: no shared reason
  // exists, so each platform keeps its own.
  const std::string why = DemoReason(DemoRow{"noflush", true, true});
  EXPECT_NE(why.find("ADR: "), std::string::npos) << why;
  EXPECT_TRUE(DemoReason(DemoRow{"no-such-pattern", true, true}).empty());
}

TEST(DemoTableTest, ColumnsLineUpWithAndWithoutColour) {
  const std::vector<DemoRow> rows = {{"noflush", false, true},
                                     {"plain-store-clflushopt", true, true},
                                     {"flush-nodrain", false, std::nullopt}};
  const std::vector<std::string> plain = Lines(FormatDemoTable(rows, /*colour=*/false));
  ASSERT_EQ(plain.size(), 4u);
  EXPECT_EQ(plain[0].rfind("pattern", 0), 0u);
  const size_t why = plain[0].find("why");
  ASSERT_NE(why, std::string::npos);
  for (size_t i = 1; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].find_first_not_of(' ', why - 1), why) << plain[i];
  }
  std::istringstream words(plain[3]);
  std::string pattern, adr, eadr;
  words >> pattern >> adr >> eadr;
  EXPECT_EQ(pattern, "flush-nodrain");
  EXPECT_EQ(adr, "no");
  EXPECT_EQ(eadr, "?");
  EXPECT_EQ(plain[1].find('\033'), std::string::npos);

  const std::string coloured = FormatDemoTable(rows, /*colour=*/true);
  EXPECT_NE(coloured.find("\033[32myes\033[0m"), std::string::npos);
  EXPECT_NE(coloured.find("\033[31mno\033[0m"), std::string::npos);
  // Without the escape sequences the coloured table is the plain one.
  std::string stripped;
  for (size_t i = 0; i < coloured.size(); ++i) {
    if (coloured[i] == '\033') {
      i = coloured.find('m', i);
      continue;
    }
    stripped += coloured[i];
  }
  EXPECT_EQ(stripped, FormatDemoTable(rows, /*colour=*/false));
}

TEST(DemoTableTest, ALongPatternStillLeavesASpace) {
  const std::string table = FormatDemoTable({{std::string(40, 'p'), true, true}}, /*colour=*/false);
  EXPECT_NE(table.find(std::string(40, 'p') + " yes"), std::string::npos) << table;
}

}  // namespace
}  // namespace nvlab
