// counter_test.cc -- power-cycle tests of the persistent counter (counter.c) with the nvlab SDK:
// each test boots a guest whose /host is the folder holding the static `counter`.

#include <nvlab/testing.h>

#include <cstdint>

namespace {

// The devdax device's first byte is NVDIMM offset 2 MiB (its info block and alignment come
// first), so the counter's line is reported as nvdimm0+0x200000.
constexpr uint64_t kCounterOffset = 0x200000;
constexpr uint64_t kCounterBytes = 16;

nvlab::LabConfig CounterConfig(const char* on_cut) {
  nvlab::LabConfig config;
  config.share_dir = COUNTER_SHARE_DIR;
  config.on_cut = on_cut;
  return config;
}

class CounterTest : public nvlab::testing::LabTest {
 protected:
  nvlab::LabConfig Config() const override { return CounterConfig("lose"); }
};

TEST_F(CounterTest, AFlushedIncrementSurvivesACut) {
  nvlab::PowerCycleOutcome outcome;
  ASSERT_LAB_OK(
      PowerCycleWith("counter", "reset && /host/counter increment", "expect 1", &outcome));
  EXPECT_EXITED(outcome.before, 0);
  EXPECT_SURVIVED(outcome);
  EXPECT_NOT_LOST(outcome.cut, 0, kCounterOffset, kCounterBytes);
}

TEST_F(CounterTest, AnUnflushedIncrementIsLostAndTheReportNamesItsLine) {
  nvlab::PowerCycleOutcome outcome;
  ASSERT_LAB_OK(PowerCycleWith(
      "counter", "reset && /host/counter increment && /host/counter increment-unflushed",
      "expect 1", &outcome));
  EXPECT_TRUE(outcome.before.cut_by_guest) << nvlab::testing::Describe(outcome.before);
  EXPECT_SURVIVED(outcome);  // the value made durable, not the lost increment
  EXPECT_LOST_LINES(outcome.cut, 0, kCounterOffset, kCounterBytes);
}

// One guest for every cut of this suite: the counter carries over from test to test.
class CounterRandomCutTest : public nvlab::testing::SharedLabTest<CounterRandomCutTest> {
 public:
  static nvlab::LabConfig SuiteConfig() { return CounterConfig("random:7"); }
};

TEST_F(CounterRandomCutTest, TheCounterNeverReadsTorn) {
  for (int cut = 0; cut < 3; ++cut) {
    nvlab::PowerCycleOutcome outcome;
    ASSERT_LAB_OK(PowerCycleWith("counter", "increment-unflushed", "get", &outcome));
    EXPECT_SURVIVED(outcome) << "cut " << cut;  // get exits 3 on a torn record
  }
}

}  // namespace
