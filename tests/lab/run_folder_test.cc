// run_folder_test.cc -- run folders: each records its owner, and a later nvlab sweeps those of
// owners that are gone (a dead PID, or a PID reused by a process that started later) and never
// one whose owner lives or that is not a run folder.

#include "nvlab/run_folder.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "nvlab/file_contents.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

class RunFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "run-folder-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    root_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  // Forge makes a run folder named `name` whose owner file says pid and start.
  fs::path Forge(const std::string& name, pid_t pid, uint64_t start) {
    fs::path dir = root_ / name;
    fs::create_directories(dir);
    std::ofstream(dir / "owner") << OwnerFileText(pid, start);
    std::ofstream(dir / "console-1.log") << "left behind";
    return dir;
  }
  // DeadPid is the PID of a child that has ended and been reaped.
  static pid_t DeadPid() {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status = 0;
    waitpid(pid, &status, 0);
    return pid;
  }
  fs::path root_;
};

TEST_F(RunFolderTest, ProcessStartTimeIsField22OfProcStat) {
  uint64_t start = 0;
  ASSERT_TRUE(ProcessStartTime(getpid(), &start).ok());
  EXPECT_GT(start, 0u);
  uint64_t again = 0;
  ASSERT_TRUE(ProcessStartTime(getpid(), &again).ok());
  EXPECT_EQ(again, start);
  EXPECT_EQ(ProcessStartTime(DeadPid(), &again).code(), Status::Code::kNotFound);
}

TEST_F(RunFolderTest, AStaleFolderIsSweptAndALiveOneKept) {
  uint64_t my_start = 0;
  ASSERT_TRUE(ProcessStartTime(getpid(), &my_start).ok());
  const fs::path stale = Forge("nvlab-Ab12Cd", DeadPid(), 12345);
  const fs::path reused = Forge("nvlab-reused", getpid(), my_start + 1);  // PID reused since
  const fs::path live = Forge("nvlab-live00", getpid(), my_start);
  SweepStaleRunFolders(root_);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(reused));
  EXPECT_TRUE(fs::exists(live / "console-1.log"));
}

TEST_F(RunFolderTest, AFolderKeptByKeepIsNeverSwept) {
  const fs::path kept = Forge("nvlab-Kept01", DeadPid(), 12345);
  ASSERT_TRUE(MarkRunFolderKept(kept).ok());
  const fs::path stale = Forge("nvlab-Stale1", DeadPid(), 12345);
  SweepStaleRunFolders(root_);
  EXPECT_TRUE(fs::exists(kept / "console-1.log"));
  EXPECT_TRUE(fs::exists(kept / "kept"));
  EXPECT_FALSE(fs::exists(stale));
}

TEST_F(RunFolderTest, OnlyRunFoldersWithAValidOwnerFileAreEverRemoved) {
  const pid_t dead = DeadPid();
  const fs::path other_name = Forge("nvlab-1000", dead, 1);    // not mkdtemp's six characters
  const fs::path other_tool = Forge("other-Ab12Cd", dead, 1);  // not nvlab's
  fs::create_directories(root_ / "nvlab-nownr1");              // no owner file (being made)
  const fs::path garbled = Forge("nvlab-garble", dead, 1);
  std::ofstream(garbled / "owner") << "pid=" << dead << "\n";  // no start time
  std::ofstream(root_ / "nvlab-file00") << "a file, not a folder";
  const fs::path target = Forge("nvlab-target", dead, 1);
  fs::create_directory_symlink(target, root_ / "nvlab-symlnk");
  SweepStaleRunFolders(root_);
  EXPECT_TRUE(fs::exists(other_name));
  EXPECT_TRUE(fs::exists(other_tool));
  EXPECT_TRUE(fs::exists(root_ / "nvlab-nownr1"));
  EXPECT_TRUE(fs::exists(garbled));
  EXPECT_TRUE(fs::exists(root_ / "nvlab-file00"));
  EXPECT_FALSE(fs::exists(target));
  EXPECT_TRUE(fs::is_symlink(root_ / "nvlab-symlnk")) << "a symlink is not followed";
}

TEST_F(RunFolderTest, MakeRunFolderRecordsItsOwnerAndSweepsFirst) {
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old != nullptr ? old : "";
  setenv("TMPDIR", root_.c_str(), 1);
  const fs::path stale = Forge("nvlab-Zz99zz", DeadPid(), 7);
  fs::path made;
  const Status s = MakeRunFolder(&made);
  if (old != nullptr) {
    setenv("TMPDIR", saved.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(made.parent_path(), root_);
  EXPECT_TRUE(IsRunFolderName(made.filename().string())) << made;
  EXPECT_FALSE(fs::exists(stale));
  std::string owner;
  ASSERT_TRUE(ReadFileContents(made / "owner", &owner).ok());
  uint64_t start = 0;
  ASSERT_TRUE(ProcessStartTime(getpid(), &start).ok());
  EXPECT_EQ(owner, OwnerFileText(getpid(), start));
  EXPECT_EQ(fs::status(made).permissions() & fs::perms::all, fs::perms::owner_all);
  SweepStaleRunFolders(root_);
  EXPECT_TRUE(fs::exists(made)) << "this process's own folder is never swept";
}

}  // namespace
}  // namespace nvlab
