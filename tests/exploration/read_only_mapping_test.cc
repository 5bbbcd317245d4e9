// read_only_mapping_test.cc -- ReadOnlyMapping: a file's first bytes read in place, holes as
// zeros, short files and non-files refused.

#include "nvlab/exploration/read_only_mapping.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace nvlab {
namespace {

namespace fs = std::filesystem;

class ReadOnlyMappingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "nvlab-mapping-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ReadOnlyMappingTest, MapsTheFileWithHolesAsZeros) {
  const fs::path file = dir_ / "image";
  const int fd = open(file.c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
  ASSERT_EQ(pwrite(fd, "xyz", 3, 4096), 3);
  close(fd);
  ReadOnlyMapping m;
  ASSERT_TRUE(ReadOnlyMapping::Open(file, 8192, &m).ok());
  ASSERT_EQ(m.bytes().size(), 8192u);
  EXPECT_EQ(m.bytes()[0], 0);
  EXPECT_EQ(m.bytes()[4097], 'y');
  ReadOnlyMapping moved = std::move(m);
  EXPECT_EQ(moved.bytes()[4098], 'z');
}

TEST_F(ReadOnlyMappingTest, RefusesShortFilesFoldersAndMissingFiles) {
  const fs::path file = dir_ / "short";
  const int fd = open(file.c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "ab", 2), 2);
  close(fd);
  ReadOnlyMapping m;
  const Status short_file = ReadOnlyMapping::Open(file, 64, &m);
  EXPECT_EQ(short_file.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(short_file.message().find("fewer than the 64"), std::string::npos);
  EXPECT_EQ(ReadOnlyMapping::Open(dir_, 64, &m).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ReadOnlyMapping::Open(dir_ / "missing", 64, &m).code(), Status::Code::kIoError);
  EXPECT_TRUE(ReadOnlyMapping::Open(dir_ / "missing", 0, &m).ok());
}

}  // namespace
}  // namespace nvlab
