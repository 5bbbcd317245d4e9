// guest_program_test.cc -- RunGuestProgram, with the host's programs.

#include "nvlab/agent/guest_program.h"

#include <gtest/gtest.h>

namespace nvlab::agent {
namespace {

TEST(GuestProgramTest, ASuccessIsOk) {
  EXPECT_TRUE(RunGuestProgram({"true"}).ok());
}

TEST(GuestProgramTest, AFailureSaysHowItEndedAndWhatItPrinted) {
  const Status s = RunGuestProgram({"sh", "-c", "echo to-out; echo to-err >&2; exit 3"});
  ASSERT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("exited with status 3"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("to-out"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("to-err"), std::string::npos) << s.ToString();
}

TEST(GuestProgramTest, ASignalIsNamed) {
  const Status s = RunGuestProgram({"sh", "-c", "kill -9 $$"});
  EXPECT_NE(s.message().find("killed by signal 9"), std::string::npos) << s.ToString();
}

TEST(GuestProgramTest, AMissingProgramIsNotFound) {
  const Status s = RunGuestProgram({"nvlab-no-such-program"});
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_EQ(RunGuestProgram({}).code(), Status::Code::kInvalidArgument);
}

TEST(GuestProgramTest, ExtraEnvironmentReachesTheProgramAndStdinIsEmpty) {
  EXPECT_TRUE(RunGuestProgram({"sh", "-c", "test \"$NVLAB_X\" = 42"}, {"NVLAB_X=42"}).ok());
  EXPECT_TRUE(RunGuestProgram({"sh", "-c", "test -z \"$(cat)\""}).ok());
}

TEST(GuestProgramTest, OutputIsCappedAt4KiB) {
  const Status s = RunGuestProgram({"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; exit 1"});
  EXPECT_FALSE(s.ok());
  EXPECT_LT(s.message().size(), 4096U + 200U);
}

}  // namespace
}  // namespace nvlab::agent
