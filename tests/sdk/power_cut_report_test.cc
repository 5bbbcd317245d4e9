// power_cut_report_test.cc -- the SDK's typed cut report: made from the host library's
// CutReport, its range queries and summary (unit, no QEMU).

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "nvlab/power_cut_report.h"
#include "power_cut_report_from.h"

namespace nvlab {
namespace {

CutReport HostReport() {
  CutReport cut;
  cut.present = true;
  cut.json = R"({"format":"nvlab-cut-report"})";
  cut.trigger = "guest";
  cut.nvdimm_sync = "ok";
  cut.persistence = "adr";
  cut.policy = "random";
  cut.policy_text = "random:7:0.25";
  cut.lost_lines = 3;
  cut.nvdimms = {{0, 0x100000000, 256 << 20, "/run/x/nvdimm0.img"}};
  LostLine dirty;
  dirty.nvdimm = 0;
  dirty.offset = 0x200000;
  dirty.gpa = 0x100200000;
  dirty.state = "dirty";
  LostLine wc = dirty;
  wc.offset = 0x200080;
  wc.gpa = 0x100200080;
  wc.state = "wc-buffer";
  wc.pc = 0x401a2c;
  wc.process = GuestProcess{123, 120, "counter"};
  wc.symbol = "main+0x1c";
  LostLine pending = dirty;
  pending.nvdimm = 1;
  pending.state = "flush-pending";
  cut.lines = {dirty, wc, pending};
  cut.totals.stores = 10;
  cut.totals.nt_stores = 1;
  cut.totals.flushes = 4;
  cut.totals.fences = 9;
  cut.totals.unresolved_flushes = 2;
  return cut;
}

TEST(PowerCutReportTest, EveryFieldComesFromTheHostReport) {
  const PowerCutReport r = PowerCutReportFrom(HostReport());
  ASSERT_TRUE(r.present);
  EXPECT_EQ(r.trigger, "guest");
  EXPECT_EQ(r.persistence, "adr");
  EXPECT_EQ(r.policy, "random");
  EXPECT_EQ(r.policy_text, "random:7:0.25");
  EXPECT_EQ(r.lost_lines, 3u);
  ASSERT_EQ(r.nvdimms.size(), 1u);
  EXPECT_EQ(r.nvdimms[0].gpa, 0x100000000u);
  EXPECT_EQ(r.nvdimms[0].path, "/run/x/nvdimm0.img");
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[0].state, LostLineState::kDirty);
  EXPECT_EQ(r.lines[1].state, LostLineState::kWcBuffer);
  EXPECT_EQ(r.lines[2].state, LostLineState::kFlushPending);
  EXPECT_EQ(r.lines[1].pc, std::optional<uint64_t>(0x401a2c));
  EXPECT_EQ(r.lines[1].process, "counter");
  EXPECT_EQ(r.lines[1].pid, 120);
  EXPECT_EQ(r.lines[1].symbol, "main+0x1c");
  EXPECT_EQ(r.lines[0].description, DescribeLostLine(HostReport().lines[0]));
  EXPECT_EQ(r.stores, 10u);
  EXPECT_EQ(r.nt_stores, 1u);
  EXPECT_EQ(r.flushes, 4u);
  EXPECT_EQ(r.fences, 9u);
  EXPECT_EQ(r.unresolved_flushes, 2u);
  EXPECT_EQ(r.json, HostReport().json);
  EXPECT_STREQ(LostLineStateName(r.lines[2].state), "flush-pending");
}

TEST(PowerCutReportTest, AnAbsentReportStaysAbsent) {
  const PowerCutReport r = PowerCutReportFrom(CutReport());
  EXPECT_FALSE(r.present);
  EXPECT_TRUE(r.lines.empty());
  EXPECT_FALSE(r.LostAt(0, 0, std::numeric_limits<uint64_t>::max()));
  EXPECT_NE(r.Summary().find("model was off"), std::string::npos);
}

TEST(PowerCutReportTest, LostAtFindsEveryByteOfALineAndOnlyThose) {
  const PowerCutReport r = PowerCutReportFrom(HostReport());
  EXPECT_TRUE(r.LostAt(0, 0x200000));
  EXPECT_TRUE(r.LostAt(0, 0x20003f));
  EXPECT_FALSE(r.LostAt(0, 0x200040));  // the line between the two lost ones
  EXPECT_FALSE(r.LostAt(0, 0x200040, 0x40));
  EXPECT_TRUE(r.LostAt(0, 0x200040, 0x41));  // reaches the wc-buffer line
  EXPECT_TRUE(r.LostAt(0, 0x1fffff, 2));     // ends in the first line
  EXPECT_FALSE(r.LostAt(0, 0x1fffff, 1));
  EXPECT_FALSE(r.LostAt(0, 0x200000, 0));  // an empty range holds nothing
  EXPECT_TRUE(r.LostAt(1, 0x200010, 8));
  EXPECT_FALSE(r.LostAt(2, 0x200000, 64));
  EXPECT_TRUE(r.LostAt(0, 0, std::numeric_limits<uint64_t>::max()));  // no overflow
  EXPECT_FALSE(r.LostAt(0, std::numeric_limits<uint64_t>::max(), 1));
  EXPECT_EQ(r.LinesAt(0, 0, 0x300000).size(), 2u);
  EXPECT_EQ(r.LinesAt(1, 0, 0x300000).size(), 1u);
}

TEST(PowerCutReportTest, SummaryListsAtMostTheGivenNumberOfLines) {
  const PowerCutReport r = PowerCutReportFrom(HostReport());
  const std::string all = r.Summary();
  EXPECT_EQ(all.rfind("cut: trigger guest, 3 NVDIMM lines lost\n", 0), 0u) << all;
  EXPECT_NE(all.find(r.lines[2].description), std::string::npos);
  const std::string one = r.Summary(1);
  EXPECT_NE(one.find("... and 2 more"), std::string::npos) << one;
  EXPECT_EQ(one.find(r.lines[1].description), std::string::npos);
}

}  // namespace
}  // namespace nvlab
