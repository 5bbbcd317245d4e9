// File: nvlab/testing.h
//
// GoogleTest helpers for power-cycle tests with the nvlab SDK (target nvlab::testing; the test
// links its own GTest::gtest, this header brings none): fixtures that boot a guest per test
// (nvlab::testing::LabTest) or once per test suite (nvlab::testing::SharedLabTest<Suite>),
// PowerCycleWith to power-cycle with a program from the share folder, and assertions on what
// survived a cut and on the lost lines of its report (docs/design/sdk.md):
//
//   ASSERT_LAB_OK(status)                        an SDK call succeeded (else its message)
//   EXPECT_EXITED(result, code)                  a guest command exited `code`
//   EXPECT_SURVIVED(outcome)                     the check after the cut exited 0
//   EXPECT_LOST_LINES(report, nvdimm, off, len)  the cut lost a line of that NVDIMM range
//   EXPECT_NOT_LOST(report, nvdimm, off, len)    the cut lost no line of it
//
// (each with an ASSERT_ twin). Every failure message shows the guest's output and the cut's lost
// lines.
//
// Life cycle: LabTest boots in SetUp and powers off in TearDown; SharedLabTest<Suite> boots in
// SetUpTestSuite and powers off in TearDownTestSuite, its NVDIMMs' content carrying over from one
// test to the next. A fixture whose guest does not boot fails the test (or each test of the
// suite) with the reason; it never skips.
//
// Thread-safety: as GoogleTest's fixtures (one test at a time).

#ifndef NVLAB_SDK_TESTING_H_
#define NVLAB_SDK_TESTING_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "nvlab/nvlab.h"

namespace nvlab::testing {

// LabOk is a success when `status` is OK, else a failure carrying its message.
inline ::testing::AssertionResult LabOk(const Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the nvlab call failed (nvlab would exit "
                                       << ExitStatusOf(status) << "): " << status.ToString();
}

// Describe is a command's result for a failure message: its status, stdout and stderr.
inline std::string Describe(const CommandResult& result) {
  std::string text = result.cut_by_guest ? std::string("the command cut the power itself")
                                         : "exit status " + std::to_string(result.exit_status);
  text += "\n--- stdout ---\n" + result.out + "\n--- stderr ---\n" + result.err;
  if (result.cut.present) text += "\n--- its cut ---\n" + result.cut.Summary();
  return text;
}

// Exited is a success when the command ran to its end with exit status `code`.
inline ::testing::AssertionResult Exited(const CommandResult& result, int code) {
  if (!result.cut_by_guest && result.exit_status == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected exit status " << code << ", got " << Describe(result);
}

// Survived is a success when the check after the cut (outcome.after) exited 0: the program's own
// check found what it made durable.
inline ::testing::AssertionResult Survived(const PowerCycleOutcome& outcome) {
  if (!outcome.after.cut_by_guest && outcome.after.exit_status == 0) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "the check after the power cut failed: " << Describe(outcome.after) << "\n--- the cut ("
         << outcome.persistence << ", on-cut " << outcome.on_cut << ") ---\n"
         << outcome.cut.Summary() << "--- before the cut: " << Describe(outcome.before);
}

// LostLines is a success when the report lists a lost line holding a byte of
// [offset, offset + length) of NVDIMM `nvdimm`.
inline ::testing::AssertionResult LostLines(const PowerCutReport& report, uint64_t nvdimm,
                                            uint64_t offset, uint64_t length) {
  if (!report.present) {
    return ::testing::AssertionFailure() << "no power-cut report (the model was off)";
  }
  if (report.LostAt(nvdimm, offset, length)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no lost line in nvdimm" << nvdimm << " [" << offset
                                       << ", " << offset + length << "); the cut's report:\n"
                                       << report.Summary();
}

// NotLost is a success when the report lists no lost line in that range (an absent report, the
// model off, loses nothing).
inline ::testing::AssertionResult NotLost(const PowerCutReport& report, uint64_t nvdimm,
                                          uint64_t offset, uint64_t length) {
  if (!report.LostAt(nvdimm, offset, length)) return ::testing::AssertionSuccess();
  std::string lines;
  for (const PowerCutLine& line : report.LinesAt(nvdimm, offset, length)) {
    lines += "  " + line.description + "\n";
  }
  return ::testing::AssertionFailure()
         << "the cut lost nvdimm" << nvdimm << " [" << offset << ", " << offset + length << "):\n"
         << lines;
}

// ShareCommand is the guest's shell command running `program` from the share folder (/host)
// with `args` (a shell string).
inline std::string ShareCommand(const std::string& program, const std::string& args) {
  return "/host/" + program + (args.empty() ? "" : " " + args);
}

// PowerCycleWith power-cycles `guest` with /host/PROGRAM BEFORE_ARGS before the cut and
// /host/PROGRAM AFTER_ARGS after it (LabConfig::share_dir holds the program).
inline Status PowerCycleWith(LabGuest& guest, const std::string& program,
                             const std::string& before_args, const std::string& after_args,
                             PowerCycleOutcome* outcome) {
  return guest.PowerCycle(ShareCommand(program, before_args), ShareCommand(program, after_args),
                          outcome);
}

// PowerCycleWith on a Lab: a fresh guest for the power-cycle, as `nvlab power-cycle`.
inline Status PowerCycleWith(Lab& lab, const std::string& program, const std::string& before_args,
                             const std::string& after_args, PowerCycleOutcome* outcome) {
  return lab.PowerCycle(ShareCommand(program, before_args), ShareCommand(program, after_args),
                        outcome);
}

// LabTest boots a guest for each test. A test suite derives from it and overrides Config to
// shape the guest (share folder, persistence, on-cut policy, ...).
class LabTest : public ::testing::Test {
 protected:
  virtual LabConfig Config() const { return LabConfig(); }

  void SetUp() override {
    ASSERT_TRUE(LabOk(Lab::Create(Config(), &lab_)));
    ASSERT_TRUE(LabOk(lab_->Boot(&guest_)));
  }
  void TearDown() override {
    if (guest_) {
      EXPECT_TRUE(LabOk(guest_->PowerOff()));
    }
    guest_.reset();
  }

  Lab& lab() { return *lab_; }
  LabGuest& guest() { return *guest_; }

  // PowerCycleWith is nvlab::testing::PowerCycleWith on this test's guest.
  Status PowerCycleWith(const std::string& program, const std::string& before_args,
                        const std::string& after_args, PowerCycleOutcome* outcome) {
    return testing::PowerCycleWith(*guest_, program, before_args, after_args, outcome);
  }

 private:
  std::unique_ptr<Lab> lab_;
  std::unique_ptr<LabGuest> guest_;
};

// SharedLabTest<Suite> boots one guest for all the tests of Suite (which derives from
// SharedLabTest<Suite>, and may define `static LabConfig SuiteConfig()` to shape it). The guest
// lives in static storage because GoogleTest makes a new fixture object per test and keeps
// per-suite state in static members (SetUpTestSuite); the template gives each suite its own.
template <typename Suite>
class SharedLabTest : public ::testing::Test {
 public:
  static LabConfig SuiteConfig() { return LabConfig(); }

  static void SetUpTestSuite() {
    State& s = state();
    s.status = Lab::Create(Suite::SuiteConfig(), &s.lab);
    if (s.status.ok()) s.status = s.lab->Boot(&s.guest);
  }
  static void TearDownTestSuite() {
    State& s = state();
    if (s.guest) {
      EXPECT_TRUE(LabOk(s.guest->PowerOff()));
    }
    s.guest.reset();
    s.lab.reset();
  }

 protected:
  void SetUp() override { ASSERT_TRUE(LabOk(state().status)) << "the suite's guest did not boot"; }

  static Lab& lab() { return *state().lab; }
  static LabGuest& guest() { return *state().guest; }

  static Status PowerCycleWith(const std::string& program, const std::string& before_args,
                               const std::string& after_args, PowerCycleOutcome* outcome) {
    return testing::PowerCycleWith(*state().guest, program, before_args, after_args, outcome);
  }

 private:
  struct State {
    Status status;
    std::unique_ptr<Lab> lab;
    std::unique_ptr<LabGuest> guest;
  };
  static State& state() {
    static State s;  // the suite's guest: see the class comment
    return s;
  }
};

}  // namespace nvlab::testing

#define ASSERT_LAB_OK(status) ASSERT_TRUE(::nvlab::testing::LabOk(status))
#define EXPECT_LAB_OK(status) EXPECT_TRUE(::nvlab::testing::LabOk(status))
#define EXPECT_EXITED(result, code) EXPECT_TRUE(::nvlab::testing::Exited((result), (code)))
#define ASSERT_EXITED(result, code) ASSERT_TRUE(::nvlab::testing::Exited((result), (code)))
#define EXPECT_SURVIVED(outcome) EXPECT_TRUE(::nvlab::testing::Survived(outcome))
#define ASSERT_SURVIVED(outcome) ASSERT_TRUE(::nvlab::testing::Survived(outcome))
#define EXPECT_LOST_LINES(report, nvdimm, offset, length) \
  EXPECT_TRUE(::nvlab::testing::LostLines((report), (nvdimm), (offset), (length)))
#define ASSERT_LOST_LINES(report, nvdimm, offset, length) \
  ASSERT_TRUE(::nvlab::testing::LostLines((report), (nvdimm), (offset), (length)))
#define EXPECT_NOT_LOST(report, nvdimm, offset, length) \
  EXPECT_TRUE(::nvlab::testing::NotLost((report), (nvdimm), (offset), (length)))
#define ASSERT_NOT_LOST(report, nvdimm, offset, length) \
  ASSERT_TRUE(::nvlab::testing::NotLost((report), (nvdimm), (offset), (length)))

#endif  // NVLAB_SDK_TESTING_H_
