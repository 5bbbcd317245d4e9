// untrusted_text_test.cc -- EscapeUntrusted, EscapeUntrustedLines.

#include "nvlab/untrusted_text.h"

#include <gtest/gtest.h>

#include <string>

namespace nvlab {
namespace {

TEST(EscapeUntrustedTest, PassesPrintableAsciiUnchanged) {
  EXPECT_EQ(EscapeUntrusted("nvlab-litmus main+0x1c"), "nvlab-litmus main+0x1c");
}

TEST(EscapeUntrustedTest, WritesEverythingElseAndTheBackslashAsHexEscapes) {
  EXPECT_EQ(EscapeUntrusted(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(EscapeUntrusted("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(EscapeUntrusted("a\\x41"), "a\\x5cx41");  // no forged escape reads back as 'A'
  EXPECT_EQ(EscapeUntrusted("line\nnext\t\r"), "line\\x0anext\\x09\\x0d");
  EXPECT_EQ(EscapeUntrusted("\x7f\x80\xff"), "\\x7f\\x80\\xff");
}

TEST(EscapeUntrustedTest, EveryByteGivesOnlyPrintableAscii) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (char c : EscapeUntrusted(all)) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
  }
}

TEST(EscapeUntrustedLinesTest, KeepsLineBreaksAndTabsAndFoldsCrLf) {
  EXPECT_EQ(EscapeUntrustedLines("boot\r\nready\tok\n"), "boot\nready\tok\n");
  EXPECT_EQ(EscapeUntrustedLines("bare\rcr"), "bare\\x0dcr");
  EXPECT_EQ(EscapeUntrustedLines("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
  EXPECT_EQ(EscapeUntrustedLines("trailing\r"), "trailing\\x0d");
}

}  // namespace
}  // namespace nvlab
