// exploration_report_test.cc -- what nvlab explore prints and writes: the summary line scripts
// read, the failure text, JSON and JUnit XML, with untrusted guest text escaped.

#include "nvlab/exploration/exploration_report.h"

#include <gtest/gtest.h>

#include <string>

namespace nvlab {
namespace {

using explore::StateCount;

ExplorationResult OneFailure() {
  ExplorationResult r;
  r.check = "check --strict";
  r.seconds = 12.34;
  r.nvdimms = {{0x100000000, 1 << 20, ""}};
  r.totals.crash_points = 3;
  r.totals.states = StateCount(40);
  r.totals.visited = 10;
  r.totals.distinct = 8;
  r.totals.pruned = StateCount(30);
  r.totals.failed_visits = 1;
  r.totals.failed_states = StateCount(4);
  explore::CrashPointResult point;
  point.crash_point = 17;
  point.states = StateCount(20);
  point.visited = 5;
  point.failed_visits = 1;
  point.failed_states = StateCount(4);
  r.crash_points = {point};
  ExplorationFailure f;
  f.crash_point = 17;
  f.fence_pc = 0x401234;
  f.fence_process = "writer\x07";
  f.fence_symbol = "drain+0x4";
  f.represented = StateCount(4);
  f.verdict = "exit 1";
  f.check_output = "inconsistent: entry 0\x1b[31m <bad>\n";
  FailedLine line;
  line.gpa = 0x100000040;
  line.candidate = 0;
  line.candidates = 3;
  line.missed = {{5, explore::EventKind::kStore, 0x100000048, 0x401000, 42, "writer\x07",
                  "append_entry+0x1c"}};
  f.lines = {line};
  f.kept_images = {"/tmp/keep dir/nvdimm0.img"};
  r.failures = {f};
  return r;
}

TEST(ExplorationReport, SummaryLineHasTheFormatScriptsRead) {
  EXPECT_EQ(ExplorationSummaryLine(OneFailure()),
            "explored 40 crash states (8 distinct, 30 pruned) at 3 crash points in 12.3 s: 4 "
            "failed");
  ExplorationResult none;
  EXPECT_EQ(ExplorationSummaryLine(none),
            "explored 0 crash states (0 distinct, 0 pruned) at 0 crash points in 0.0 s: 0 failed");
}

TEST(ExplorationReport, TextNamesTheStoreTheOutputAndTheReplay) {
  const std::string text = ExplorationText(OneFailure());
  EXPECT_NE(text.find("crash point before event 17 (PC 0x401234 <drain+0x4>)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("did not persist: store at 0x100000048 (event 5, PC 0x401000 "
                      "<append_entry+0x1c>, writer\\x07 pid 42)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("| inconsistent: entry 0"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << "escape sequences must not reach the terminal";
  EXPECT_NE(text.find("replay: nvlab run --nvdimm-image '/tmp/keep dir/nvdimm0.img' -- "
                      "'check --strict'"),
            std::string::npos)
      << text;
}

TEST(ExplorationReport, JsonLocatesLinesInTheirNvdimm) {
  const nlohmann::json j = ExplorationJson(OneFailure());
  EXPECT_EQ(j["schema"], "nvlab-explore/1");
  EXPECT_EQ(j["totals"]["failed_states"], "4");
  const auto& line = j["failures"][0]["lines"][0];
  EXPECT_EQ(line["nvdimm"], 0);
  EXPECT_EQ(line["offset"], 0x40);
  EXPECT_EQ(line["missed"][0]["offset"], 0x48);
  EXPECT_EQ(line["missed"][0]["process"], "writer\\x07");
  EXPECT_EQ(line["missed"][0]["symbol"], "append_entry+0x1c");
  EXPECT_EQ(j["failures"][0]["symbol"], "drain+0x4");
  EXPECT_EQ(j["failures"][0]["process"], "writer\\x07");
  EXPECT_EQ(j["failures"][0]["replay"],
            "nvlab run --nvdimm-image '/tmp/keep dir/nvdimm0.img' -- 'check --strict'");
}

TEST(ExplorationReport, JsonGivesWhereTheTimeWent) {
  ExplorationResult r = OneFailure();
  r.record_seconds = 1.5;
  r.explore_seconds = 10.25;
  r.start_seconds = 1.125;
  const nlohmann::json j = ExplorationJson(r);
  EXPECT_DOUBLE_EQ(j["seconds"]["total"].get<double>(), r.seconds);
  EXPECT_DOUBLE_EQ(j["seconds"]["record"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["seconds"]["explore"].get<double>(), 10.25);
  EXPECT_DOUBLE_EQ(j["seconds"]["start"].get<double>(), 1.125);
}

TEST(ExplorationReport, JunitHasOneTestcasePerCrashPointAndEscapesTheGuest) {
  const std::string xml = ExplorationJunit(OneFailure());
  EXPECT_NE(xml.find("<testcase classname=\"explore\" name=\"crash point 17\">"), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure message=\"4 of 20 states fail the check\">"), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("&lt;bad&gt;"), std::string::npos) << xml;
  EXPECT_EQ(xml.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace nvlab
