// sysfs_file_test.cc -- ReadSysfsFile, WriteSysfsFile, ListDirectory, PathExists.

#include "nvlab/agent/sysfs_file.h"

#include <gtest/gtest.h>

#include "fake_tree.h"

namespace nvlab::agent {
namespace {

using nvlab::testing::FakeTree;

TEST(SysfsFileTest, ReadDropsTrailingNewlines) {
  FakeTree tree;
  tree.Write("mode", "fsdax\n\n");
  std::string text;
  ASSERT_TRUE(ReadSysfsFile(tree.Path("mode"), &text).ok());
  EXPECT_EQ(text, "fsdax");
}

TEST(SysfsFileTest, ReadOfAMissingFileNamesIt) {
  FakeTree tree;
  std::string text = "old";
  const Status s = ReadSysfsFile(tree.Path("absent"), &text);
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find(tree.Path("absent")), std::string::npos) << s.ToString();
  EXPECT_EQ(text, "");
}

TEST(SysfsFileTest, ReadStopsAt64KiB) {
  FakeTree tree;
  tree.Write("big", std::string(200000, 'x'));
  std::string text;
  ASSERT_TRUE(ReadSysfsFile(tree.Path("big"), &text).ok());
  EXPECT_GE(text.size(), 65536U);
  EXPECT_LT(text.size(), 200000U);
}

TEST(SysfsFileTest, WriteWritesTheValueAsItIs) {
  FakeTree tree;
  tree.Write("uuid", "");
  ASSERT_TRUE(WriteSysfsFile(tree.Path("uuid"), "abc").ok());
  EXPECT_EQ(tree.Read("uuid"), "abc");
}

TEST(SysfsFileTest, WriteNeverCreatesAFile) {
  FakeTree tree;
  const Status s = WriteSysfsFile(tree.Path("holder_class"), "\n");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("holder_class"), std::string::npos) << s.ToString();
  EXPECT_FALSE(PathExists(tree.Path("holder_class")));
}

TEST(SysfsFileTest, ARefusedWriteShowsTheValueWithItsNewlineEscaped) {
  // /dev/full refuses every write (ENOSPC), as a driver refuses a value it does not take.
  const Status s = WriteSysfsFile("/dev/full", "\n");
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("write \"\\n\" to /dev/full"), std::string::npos) << s.ToString();
}

TEST(SysfsFileTest, ListDirectoryIsSortedWithoutDots) {
  FakeTree tree;
  tree.Write("d/region1/x", "");
  tree.Write("d/region0", "");
  tree.Write("d/ndbus0", "");
  EXPECT_EQ(ListDirectory(tree.Path("d")),
            (std::vector<std::string>{"ndbus0", "region0", "region1"}));
  EXPECT_TRUE(ListDirectory(tree.Path("missing")).empty());
}

}  // namespace
}  // namespace nvlab::agent
