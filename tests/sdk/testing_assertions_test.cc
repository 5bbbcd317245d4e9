// testing_assertions_test.cc -- nvlab/testing.h's assertion functions on made-up results: what
// passes, what fails and what the failure says (unit, no QEMU).

#include <gtest/gtest.h>

#include "nvlab/testing.h"

namespace nvlab::testing {
namespace {

PowerCutReport ReportLosing(uint64_t offset) {
  PowerCutReport r;
  r.present = true;
  r.trigger = "guest";
  r.lost_lines = 1;
  PowerCutLine line;
  line.offset = offset;
  line.description = "lost nvdimm0+0x200000 (gpa 0x100200000) dirty";
  r.lines.push_back(line);
  return r;
}

TEST(NvlabTestingTest, LabOkCarriesTheStatusAndTheExitStatus) {
  EXPECT_TRUE(LabOk(Status::Ok()));
  const auto failed = LabOk(Status::GuestDied("QEMU ended"));
  EXPECT_FALSE(failed);
  EXPECT_NE(std::string(failed.message()).find("exit 125"), std::string::npos);
  EXPECT_NE(std::string(failed.message()).find("QEMU ended"), std::string::npos);
}

TEST(NvlabTestingTest, SurvivedIsTheCheckAfterTheCutAndShowsItsOutput) {
  PowerCycleOutcome o;
  o.after.exit_status = 0;
  EXPECT_TRUE(Survived(o));
  o.after.exit_status = 1;
  o.after.out = "7\n";
  o.cut = ReportLosing(0x200000);
  const auto failed = Survived(o);
  ASSERT_FALSE(failed);
  const std::string message = failed.message();
  EXPECT_NE(message.find("exit status 1"), std::string::npos) << message;
  EXPECT_NE(message.find("7\n"), std::string::npos) << message;
  EXPECT_NE(message.find("lost nvdimm0+0x200000"), std::string::npos) << message;
  o.after.exit_status = 0;
  o.after.cut_by_guest = true;  // a check that cut the power did not check
  EXPECT_FALSE(Survived(o));
}

TEST(NvlabTestingTest, LostLinesAndNotLostLookAtTheRange) {
  const PowerCutReport r = ReportLosing(0x200000);
  EXPECT_TRUE(LostLines(r, 0, 0x200000, 16));
  EXPECT_FALSE(NotLost(r, 0, 0x200000, 16));
  EXPECT_NE(std::string(NotLost(r, 0, 0x200000, 16).message()).find("lost nvdimm0+0x200000"),
            std::string::npos);
  EXPECT_FALSE(LostLines(r, 0, 0x200040, 16));
  EXPECT_TRUE(NotLost(r, 0, 0x200040, 16));
  EXPECT_FALSE(LostLines(PowerCutReport(), 0, 0, 64));  // no report: nothing can be named
  EXPECT_TRUE(NotLost(PowerCutReport(), 0, 0, 64));
}

TEST(NvlabTestingTest, ExitedAndShareCommand) {
  CommandResult r;
  r.exit_status = 3;
  EXPECT_TRUE(Exited(r, 3));
  EXPECT_FALSE(Exited(r, 0));
  EXPECT_EQ(ShareCommand("counter", "get"), "/host/counter get");
  EXPECT_EQ(ShareCommand("counter", ""), "/host/counter");
}

}  // namespace
}  // namespace nvlab::testing
