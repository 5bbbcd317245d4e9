// shell_words_test.cc -- ShellQuoted and ShellCommandLine: what --dry-run prints is read back by
// a real sh as the very words nvlab would pass to QEMU.

#include "nvlab/shell_words.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nvlab/host_command.h"

namespace nvlab {
namespace {

TEST(ShellWordsTest, PlainWordsStayPlain) {
  EXPECT_EQ(ShellQuoted("qemu-system-x86_64"), "qemu-system-x86_64");
  EXPECT_EQ(ShellQuoted("pc,nvdimm=on,addr=0x100000000"), "pc,nvdimm=on,addr=0x100000000");
  EXPECT_EQ(ShellQuoted("/tmp/nvlab-Ab12Cd/ram0"), "/tmp/nvlab-Ab12Cd/ram0");
  EXPECT_EQ(ShellQuoted("user@host:%1+2"), "user@host:%1+2");
}

TEST(ShellWordsTest, EverythingElseIsSingleQuoted) {
  EXPECT_EQ(ShellQuoted(""), "''");
  EXPECT_EQ(ShellQuoted("a b"), "'a b'");
  EXPECT_EQ(ShellQuoted("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuoted("$HOME `x` \"q\" \\ ; & | * ? ~ # ! ( ) { } [ ] < >"),
            "'$HOME `x` \"q\" \\ ; & | * ? ~ # ! ( ) { } [ ] < >'");
}

TEST(ShellWordsTest, ShReadsTheLineBackAsTheSameWords) {
  const std::vector<std::string> argv = {"printf",
                                         "%s\\0",
                                         "plain",
                                         "",
                                         "a b",
                                         "it's",
                                         "'",
                                         "''",
                                         "$HOME",
                                         "`id`",
                                         "\"",
                                         "\\",
                                         "tab\there",
                                         "new\nline",
                                         "\xc3\xa9",
                                         "-append",
                                         "console=ttyS0 quiet panic=-1",
                                         "*",
                                         "~"};
  std::string out;
  const Status s = RunHostCommand({"sh", "-c", ShellCommandLine(argv)}, {}, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> back;
  for (size_t start = 0, end; (end = out.find('\0', start)) != std::string::npos; start = end + 1) {
    back.push_back(out.substr(start, end - start));
  }
  EXPECT_EQ(back, std::vector<std::string>(argv.begin() + 2, argv.end()));
}

}  // namespace
}  // namespace nvlab
