// Tests of the platform and cut-policy parsers and of SurvivalDraw's edge cases.
#include "nvlab/model/cut_policy.h"

#include <gtest/gtest.h>

#include <string>

#include "nvlab/model/survival_draw.h"

namespace nvlab::model {
namespace {

TEST(CutPolicyTest, ParsesLoseAndKeep) {
  CutPolicy policy = CutPolicy::Random(1, 1);
  std::string error;
  ASSERT_EQ(ParseCutPolicy("lose", &policy, &error), ModelStatus::kOk);
  EXPECT_EQ(policy.kind, CutPolicy::Kind::kLose);
  ASSERT_EQ(ParseCutPolicy("keep", &policy, &error), ModelStatus::kOk);
  EXPECT_EQ(policy.kind, CutPolicy::Kind::kKeep);
}

TEST(CutPolicyTest, ParsesRandomWithDefaultProbability) {
  CutPolicy policy;
  std::string error;
  ASSERT_EQ(ParseCutPolicy("random:42", &policy, &error), ModelStatus::kOk);
  EXPECT_EQ(policy.kind, CutPolicy::Kind::kRandom);
  EXPECT_EQ(policy.seed, 42u);
  EXPECT_DOUBLE_EQ(policy.p, 0.5);
}

TEST(CutPolicyTest, ParsesRandomWithProbabilityAndHexSeed) {
  CutPolicy policy;
  std::string error;
  ASSERT_EQ(ParseCutPolicy("random:0x10:0.25", &policy, &error), ModelStatus::kOk);
  EXPECT_EQ(policy.seed, 16u);
  EXPECT_DOUBLE_EQ(policy.p, 0.25);
}

TEST(CutPolicyTest, ReadsASeedWithALeadingZeroAsDecimalNotOctal) {
  CutPolicy policy;
  std::string error;
  ASSERT_EQ(ParseCutPolicy("random:010", &policy, &error), ModelStatus::kOk);
  EXPECT_EQ(policy.seed, 10u);
  ASSERT_EQ(ParseCutPolicy("random:0X1f", &policy, &error), ModelStatus::kOk);
  EXPECT_EQ(policy.seed, 31u);
}

// A rejected policy text and the part of the message that names its problem.
struct BadCutPolicy {
  const char* text;
  const char* message_part;
};

class BadCutPolicyTest : public ::testing::TestWithParam<BadCutPolicy> {};

TEST_P(BadCutPolicyTest, IsRejectedWithAMessageAndLeavesTheOutputAlone) {
  CutPolicy policy = CutPolicy::Keep();
  std::string error;
  EXPECT_EQ(ParseCutPolicy(GetParam().text, &policy, &error), ModelStatus::kInvalidArgument);
  EXPECT_EQ(policy.kind, CutPolicy::Kind::kKeep);
  EXPECT_NE(error.find(GetParam().message_part), std::string::npos) << error;
}

constexpr const char* kNotAKind = "expected lose, keep or random:SEED[:P]";
constexpr const char* kBadSeed = "SEED must be an unsigned number";
constexpr const char* kBadP = "P must be a number in [0, 1]";

INSTANTIATE_TEST_SUITE_P(
    Inputs, BadCutPolicyTest,
    ::testing::Values(BadCutPolicy{"", kNotAKind}, BadCutPolicy{"Lose", kNotAKind},
                      BadCutPolicy{"keep ", kNotAKind}, BadCutPolicy{"random", kNotAKind},
                      BadCutPolicy{"random:", kBadSeed}, BadCutPolicy{"random:x", kBadSeed},
                      BadCutPolicy{"random:-1", kBadSeed}, BadCutPolicy{"random:1:", kBadP},
                      BadCutPolicy{"random:1:1.5", kBadP}, BadCutPolicy{"random:1:-0.1", kBadP},
                      BadCutPolicy{"random:1:nan", kBadP}, BadCutPolicy{"random:1:0.5:3", kBadP},
                      BadCutPolicy{"random:99999999999999999999999", kBadSeed}));

TEST(PlatformTest, ParsesAdrAndEadrOnly) {
  Platform platform = Platform::kEadr;
  EXPECT_EQ(ParsePlatform("adr", &platform), ModelStatus::kOk);
  EXPECT_EQ(platform, Platform::kAdr);
  EXPECT_EQ(ParsePlatform("eadr", &platform), ModelStatus::kOk);
  EXPECT_EQ(platform, Platform::kEadr);
  EXPECT_EQ(ParsePlatform("ADR", &platform), ModelStatus::kInvalidArgument);
  EXPECT_EQ(ParsePlatform("", &platform), ModelStatus::kInvalidArgument);
  EXPECT_EQ(platform, Platform::kEadr);
}

TEST(SurvivalDrawTest, ProbabilityZeroNeverLandsAndOneAlwaysLands) {
  SurvivalDraw never(7, 0.0);
  SurvivalDraw always(7, 1.0);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_FALSE(never.Lands());
    ASSERT_TRUE(always.Lands());
  }
}

TEST(SurvivalDrawTest, SameSeedGivesSameSequence) {
  SurvivalDraw a(1234, 0.5);
  SurvivalDraw b(1234, 0.5);
  SurvivalDraw c(1235, 0.5);
  int differences = 0;
  for (int i = 0; i < 256; ++i) {
    bool x = a.Lands();
    ASSERT_EQ(x, b.Lands());
    differences += x != c.Lands();
  }
  EXPECT_GT(differences, 0);
}

TEST(SurvivalDrawTest, HalfProbabilityLandsAboutHalfTheTime) {
  SurvivalDraw draw(99, 0.5);
  int landed = 0;
  for (int i = 0; i < 10000; ++i) landed += draw.Lands();
  EXPECT_GT(landed, 4500);
  EXPECT_LT(landed, 5500);
}

}  // namespace
}  // namespace nvlab::model
