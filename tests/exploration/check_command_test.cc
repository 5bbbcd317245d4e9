// tests/exploration/check_command_test.cc -- CheckArgv: a plain check command runs without the
// guest's shell, anything else through `sh -c` unchanged.

#include "nvlab/exploration/check_command.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nvlab/guest.h"

namespace nvlab {
namespace {

using Argv = std::vector<std::string>;

const std::map<std::string, std::string> kKnown = {
    {"NVLAB_PMEM", "/dev/dax0.0"}, {"NVLAB_PMEM_ALL", "/dev/dax0.0 /dev/dax1.0"}, {"EMPTY", ""}};

TEST(CheckArgvTest, APlainCommandIsItsWordsWithTheKnownReferencesExpanded) {
  EXPECT_EQ(CheckArgv("/host/crash-corpus undo-log correct check $NVLAB_PMEM", kKnown),
            (Argv{"/host/crash-corpus", "undo-log", "correct", "check", "/dev/dax0.0"}));
  EXPECT_EQ(CheckArgv("  prog\t--pmem=${NVLAB_PMEM}:x  a,b+c@d%e  ", kKnown),
            (Argv{"prog", "--pmem=/dev/dax0.0:x", "a,b+c@d%e"}));
  EXPECT_EQ(CheckArgv("prog $NVLAB_PMEM-suffix", kKnown), (Argv{"prog", "/dev/dax0.0-suffix"}));
}

TEST(CheckArgvTest, QuotesAreTakenAsTheShellTakesThem) {
  EXPECT_EQ(CheckArgv("/host/prog check \"$NVLAB_PMEM\"", kKnown),
            (Argv{"/host/prog", "check", "/dev/dax0.0"}));
  // In double quotes a value is one word whatever it holds, and an empty one is still a word.
  EXPECT_EQ(CheckArgv("prog \"$NVLAB_PMEM_ALL\" \"$EMPTY\" \"a b\"", kKnown),
            (Argv{"prog", "/dev/dax0.0 /dev/dax1.0", "", "a b"}));
  EXPECT_EQ(CheckArgv("prog 'a $HOME | b' x\"${NVLAB_PMEM}\"y", kKnown),
            (Argv{"prog", "a $HOME | b", "x/dev/dax0.0y"}));
}

TEST(CheckArgvTest, ShellSyntaxGoesToTheShellUnchanged) {
  for (const char* command : {
           "prog a | grep b",       // a pipe
           "prog > /tmp/out",       // a redirection
           "prog 'unclosed",        // an unclosed quote
           "prog \"a\\\"b\"",       // a backslash in double quotes
           "prog \"`date`\"",       // a backquote in double quotes
           "prog \"$HOME\"",        // an unknown name in double quotes
           "'prog' a",              // a quoted command name
           "$NVLAB_PMEM a",         // a command name from a variable
           "prog *.img",            // a glob
           "prog a; prog b",        // a list
           "prog $HOME",            // a name the host does not know
           "prog $NVLAB_PMEM_ALL",  // a value field splitting would split
           "prog $EMPTY",           // an empty value (no word at all under sh)
           "prog ${NVLAB_PMEM",     // an unclosed brace
           "prog $",                // a lone dollar
           "prog ~/x",              // tilde expansion
           "prog #comment",         // a comment
           "prog $(date)",          // command substitution
           "A=1 prog",              // an assignment
           "true",                  // builtins may differ from the program of that name
           "echo hi",
           "test -e $NVLAB_PMEM",
           "[ -e $NVLAB_PMEM ]",
           "exec prog",
           "if",  // a reserved word
           "",    // nothing
           "   ",
       }) {
    EXPECT_EQ(CheckArgv(command, kKnown), ShellCommand(command)) << command;
  }
}

// CheckProgramOnShare: which check programs the check guest serves from its own memory.
class CheckProgramOnShareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/nvlab-share-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    share_ = pattern;
    std::filesystem::create_directories(share_ / "bin");
    std::ofstream(share_ / "prog") << "#!/bin/sh\n";
    std::ofstream(share_ / "bin" / "check") << "#!/bin/sh\n";
    std::filesystem::create_symlink(share_ / "prog", share_ / "link");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(share_, ec);
  }
  std::filesystem::path share_;
};

TEST_F(CheckProgramOnShareTest, AProgramFileOfTheShareIsServedFromTheGuest) {
  EXPECT_EQ(CheckProgramOnShare({"/host/prog", "check", "/dev/dax0.0"}, share_), "/host/prog");
  EXPECT_EQ(CheckProgramOnShare({"/host/bin/check"}, share_), "/host/bin/check");
}

TEST_F(CheckProgramOnShareTest, AnythingElseRunsFromWhereItIs) {
  // No share, a shell, a program elsewhere or named relative to PATH.
  EXPECT_EQ(CheckProgramOnShare({"/host/prog"}, ""), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare(ShellCommand("/host/prog | cat"), share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/bin/true"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"prog"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/hostile/prog"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({}, share_), std::nullopt);
  // Not a regular file of the share: missing, a folder, a symbolic link, a way out of it.
  EXPECT_EQ(CheckProgramOnShare({"/host/missing"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/host/bin"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/host/"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/host/link"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/host/../host/prog"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/host/bin/../prog"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/host/./prog"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/host//prog"}, share_), std::nullopt);
  EXPECT_EQ(CheckProgramOnShare({"/host//bin/true"}, share_), std::nullopt);  // not the host's
  EXPECT_EQ(CheckProgramOnShare({"/host/prog/"}, share_), std::nullopt);
}

TEST_F(CheckProgramOnShareTest, AProgramTooLargeForTheGuestsMemoryStaysOnTheShare) {
  std::filesystem::resize_file(share_ / "prog", kMaxCopiedCheckProgram + 1);
  EXPECT_EQ(CheckProgramOnShare({"/host/prog"}, share_), std::nullopt);
  std::filesystem::resize_file(share_ / "prog", kMaxCopiedCheckProgram);
  EXPECT_EQ(CheckProgramOnShare({"/host/prog"}, share_), "/host/prog");
}

}  // namespace
}  // namespace nvlab
