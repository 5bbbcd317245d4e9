// lab_guest_test.cc -- the SDK's Lab and LabGuest on real guests under TCG, with the build tree's
// staged install (LabConfig::prefix = build/<preset>/stage): run, exit statuses, power-cycles,
// a command that cuts the power itself, and a bad machine (label tcg).

#include <gtest/gtest.h>

#include <memory>

#include "nvlab/nvlab.h"
#include "nvlab/testing.h"

namespace nvlab {
namespace {

LabConfig StagedConfig() {
  LabConfig config;
  config.prefix = NVLAB_STAGE_DIR;
  return config;
}

TEST(SdkLabTest, RunGivesTheOutputAndTheExitStatus) {
  std::unique_ptr<Lab> lab;
  ASSERT_LAB_OK(Lab::Create(StagedConfig(), &lab));
  EXPECT_EQ(lab->prefix(), std::filesystem::path(NVLAB_STAGE_DIR));
  CommandResult r;
  ASSERT_LAB_OK(lab->Run("echo out; echo err >&2; exit 3", &r));
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_FALSE(r.signaled);
  EXPECT_FALSE(r.cut_by_guest);
  EXPECT_FALSE(r.nvlab_pmem.empty());
  ASSERT_LAB_OK(lab->RunArgv({"sh", "-c", "kill -TERM $$"}, &r));
  EXPECT_TRUE(r.signaled);
  EXPECT_EQ(r.exit_status, exit_status::kSignalBase + 15);
}

TEST(SdkLabTest, PowerCycleReportsTheLostLineOfAnUnflushedRecord) {
  std::unique_ptr<Lab> lab;
  ASSERT_LAB_OK(Lab::Create(StagedConfig(), &lab));
  PowerCycleOutcome o;
  ASSERT_LAB_OK(lab->PowerCycle("nvlab-records write $NVLAB_PMEM --pattern noflush",
                                "nvlab-records check $NVLAB_PMEM --pattern noflush", &o));
  EXPECT_EQ(o.machine, "default");
  EXPECT_EQ(o.persistence, "adr");
  EXPECT_TRUE(o.model);
  EXPECT_EQ(o.on_cut, "lose");
  EXPECT_EXITED(o.before, 0);
  EXPECT_NE(o.after.out.find("survived=no"), std::string::npos) << o.after.out;
  ASSERT_TRUE(o.cut.present);
  EXPECT_EQ(o.cut.trigger, "host");
  EXPECT_EQ(o.cut.lost_lines, 1u);
  EXPECT_LOST_LINES(o.cut, 0, 0x200000, 64);
  EXPECT_EQ(o.cut.lines.at(0).state, LostLineState::kDirty);
}

TEST(SdkLabTest, ABootedGuestRunsOnAfterACutItsCommandMade) {
  std::unique_ptr<Lab> lab;
  ASSERT_LAB_OK(Lab::Create(StagedConfig(), &lab));
  std::unique_ptr<LabGuest> guest;
  ASSERT_LAB_OK(lab->Boot(&guest));
  EXPECT_FALSE(guest->nvlab_pmem().empty());
  EXPECT_EQ(guest->nvdimm_files().size(), 1u);
  CommandResult r;
  ASSERT_LAB_OK(guest->Run("nvlab-powercut", &r));
  EXPECT_TRUE(r.cut_by_guest);
  ASSERT_TRUE(r.cut.present);
  EXPECT_EQ(r.cut.trigger, "guest");
  ASSERT_LAB_OK(guest->Run("echo again", &r));  // booted again on what survived
  EXPECT_EQ(r.out, "again\n");
  ASSERT_LAB_OK(guest->PowerOff());
}

TEST(SdkLabTest, AMachineThatDoesNotExistIsAUsageError) {
  LabConfig config = StagedConfig();
  config.machine = "no-such-machine";
  std::unique_ptr<Lab> lab;
  ASSERT_LAB_OK(Lab::Create(config, &lab));  // Create starts nothing and reads no machine
  CommandResult r;
  const Status s = lab->Run("true", &r);
  EXPECT_EQ(ExitStatusOf(s), exit_status::kUsageError) << s.ToString();
  EXPECT_NE(s.message().find("no-such-machine"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace nvlab
