// hex_test.cc -- FormatHex, HexDigits, ParseHexDigits.

#include "nvlab/hex.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace nvlab {
namespace {

TEST(FormatHexTest, WritesPrefixAndLowercaseDigitsWithoutLeadingZeros) {
  EXPECT_EQ(FormatHex(0), "0x0");
  EXPECT_EQ(FormatHex(0xabc), "0xabc");
  EXPECT_EQ(FormatHex(0x100000000), "0x100000000");
  EXPECT_EQ(FormatHex(UINT64_MAX), "0xffffffffffffffff");
}

TEST(HexDigitsTest, WritesTwoLowercaseDigitsPerByte) {
  EXPECT_EQ(HexDigits(""), "");
  EXPECT_EQ(HexDigits(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
}

TEST(ParseHexDigitsTest, ReadsOneToSixteenDigitsOfEitherCase) {
  uint64_t value = 0;
  EXPECT_TRUE(ParseHexDigits("0", &value));
  EXPECT_EQ(value, 0U);
  EXPECT_TRUE(ParseHexDigits("DeadBeef", &value));
  EXPECT_EQ(value, 0xdeadbeefU);
  EXPECT_TRUE(ParseHexDigits("ffffffffffffffff", &value));
  EXPECT_EQ(value, UINT64_MAX);
}

TEST(ParseHexDigitsTest, RefusesAnythingElseAndLeavesTheValueAlone) {
  for (const char* bad : {"", "0x1", "12g", " 1", "1 ", "-1", "+1", "10000000000000000"}) {
    uint64_t value = 7;
    EXPECT_FALSE(ParseHexDigits(bad, &value)) << bad;
    EXPECT_EQ(value, 7U) << bad;
  }
}

TEST(FormatHexTest, RoundTripsThroughParseHexDigits) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{0x1234}, UINT64_MAX}) {
    uint64_t back = 0;
    ASSERT_TRUE(ParseHexDigits(FormatHex(v).substr(2), &back));
    EXPECT_EQ(back, v);
  }
}

}  // namespace
}  // namespace nvlab
