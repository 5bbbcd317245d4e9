// nvdimm_file_lock_test.cc -- NvdimmFileLocks: one file named twice (any spelling, hard links
// included) is refused before anything is made, and a file another holder locked is refused
// with its bytes and times untouched.

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "nvlab/file_lock.h"
#include "nvlab/nvdimm_file.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

class NvdimmFileLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "nvdimm-lock-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(NvdimmFileLockTest, OneFileNamedTwiceIsRefusedWhateverTheSpelling) {
  // Missing files: compared by their canonical path.
  Status s = NvdimmFileLocks::CheckDistinct({dir_ / "a.img", dir_ / "sub/../a.img"});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("names one file twice"), std::string::npos) << s.ToString();
  EXPECT_FALSE(fs::exists(dir_ / "a.img"));
  // Existing files: by device and inode, so a hard link or a symlink is the same file.
  std::ofstream(dir_ / "a.img") << "x";
  fs::create_hard_link(dir_ / "a.img", dir_ / "hard.img");
  fs::create_symlink(dir_ / "a.img", dir_ / "soft.img");
  EXPECT_EQ(NvdimmFileLocks::CheckDistinct({dir_ / "a.img", dir_ / "hard.img"}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(NvdimmFileLocks::CheckDistinct({dir_ / "soft.img", "", dir_ / "a.img"}).code(),
            Status::Code::kInvalidArgument);
  std::ofstream(dir_ / "b.img") << "y";
  EXPECT_TRUE(NvdimmFileLocks::CheckDistinct({dir_ / "a.img", "", dir_ / "b.img"}).ok());
  // Lock catches it too, should a file appear between the check and the lock.
  NvdimmFileLocks locks;
  ASSERT_TRUE(locks.Lock(dir_ / "a.img").ok());
  s = locks.Lock(dir_ / "hard.img");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(locks.Lock(dir_ / "b.img").ok());
}

TEST_F(NvdimmFileLockTest, AFileSomeoneElseLockedIsRefusedUntouched) {
  const fs::path file = dir_ / "nv.img";
  std::ofstream(file) << "precious";
  struct stat before {};
  ASSERT_EQ(stat(file.c_str(), &before), 0);
  FileLock other;  // another nvlab: any other open file description
  ASSERT_TRUE(other.AcquireExisting(file, FileLock::Mode::kShared).ok());
  NvdimmFileLocks locks;
  const Status s = locks.Lock(file);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("in use by another nvlab"), std::string::npos) << s.ToString();
  struct stat after {};
  ASSERT_EQ(stat(file.c_str(), &after), 0);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  std::ifstream in(file);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
  other.Release();
  EXPECT_TRUE(locks.Lock(file).ok()) << "free once the other holder is gone";
  FileLock third;
  bool acquired = true;
  ASSERT_TRUE(third.TryAcquire(file, FileLock::Mode::kShared, false, &acquired).ok());
  EXPECT_FALSE(acquired) << "the lock is exclusive";
}

}  // namespace
}  // namespace nvlab
