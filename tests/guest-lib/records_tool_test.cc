// records_tool_test.cc -- nvlab-records and nvlab-powercut on the host (a plain file stands in
// for the NVDIMM; outside the lab every pattern's record survives).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

struct Result {
  int status;
  std::string out;
};

Result RunCommand(const std::string& command) {
  Result r{-1, ""};
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class RecordsToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/nvrtl-records-XXXXXX";
    const int fd = mkstemp(pattern);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = pattern;
  }
  void TearDown() override { unlink(path_.c_str()); }
  std::string tool_ = NVLAB_RECORDS_PATH;
  std::string path_;
};

TEST_F(RecordsToolTest, WriteThenCheckFindsEveryPatternSurvivedOnTheHost) {
  ASSERT_EQ(RunCommand(tool_ + " write " + path_).status, 0);
  const Result check = RunCommand(tool_ + " check " + path_);
  ASSERT_EQ(check.status, 0);
  EXPECT_EQ(Count(check.out, "survived=yes"), 12) << check.out;
  EXPECT_EQ(Count(check.out, "survived=no"), 0);
  EXPECT_EQ(Count(check.out, "record pattern=write-nt-nodrain index=0 survived=yes"), 1);
}

TEST_F(RecordsToolTest, CheckOfAZeroedFileFindsNothingSurvived) {
  ASSERT_EQ(truncate(path_.c_str(), 4096), 0);
  const Result check = RunCommand(tool_ + " check " + path_ + " --json");
  ASSERT_EQ(check.status, 0);
  EXPECT_EQ(Count(check.out, "\"survived\":false"), 12) << check.out;
  EXPECT_EQ(check.out.front(), '[');
}

TEST_F(RecordsToolTest, CorruptedRecordIsNotSurvived) {
  ASSERT_EQ(RunCommand(tool_ + " write " + path_ + " --pattern flush-drain --count 4").status, 0);
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2 * 64 + 20);
    f.put('\x7f');
  }
  const Result check = RunCommand(tool_ + " check " + path_ + " --pattern flush-drain --count 4");
  ASSERT_EQ(check.status, 0);
  EXPECT_EQ(Count(check.out, "survived=yes"), 3) << check.out;
  EXPECT_EQ(Count(check.out, "index=2 survived=no"), 1) << check.out;
}

TEST_F(RecordsToolTest, CutOutsideTheLabStillWritesAndSaysSo) {
  const Result write = RunCommand(tool_ + " write " + path_ + " --cut");
  EXPECT_EQ(write.status, 0);
  EXPECT_EQ(Count(RunCommand(tool_ + " check " + path_).out, "survived=yes"), 12);
}

TEST_F(RecordsToolTest, UsageErrorsExitTwoAndIoErrorsOne) {
  EXPECT_EQ(RunCommand(tool_).status, 2);
  EXPECT_EQ(RunCommand(tool_ + " write " + path_ + " --pattern nosuch").status, 2);
  EXPECT_EQ(RunCommand(tool_ + " check " + path_ + " --cut").status, 2);
  EXPECT_EQ(RunCommand(tool_ + " check /nonexistent/records").status, 1);
}

TEST(PowerCutToolTest, ReturnsAndExitsOneOutsideTheLab) {
  EXPECT_EQ(RunCommand(NVLAB_POWERCUT_PATH).status, 1);
}

}  // namespace
