// agent_frame_test.cc -- the host <-> agent wire format, including hostile input.

#include "nvlab/agent_frame.h"

#include <gtest/gtest.h>

namespace nvlab {
namespace {

std::string Header(uint8_t type, uint8_t version, uint8_t r0, uint8_t r1, uint32_t len) {
  std::string h;
  h.push_back(static_cast<char>(type));
  h.push_back(static_cast<char>(version));
  h.push_back(static_cast<char>(r0));
  h.push_back(static_cast<char>(r1));
  for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  return h;
}

TEST(AgentFrameTest, RoundTripsEveryFrameType) {
  for (FrameType type : {FrameType::kHello, FrameType::kStdout, FrameType::kStderr,
                         FrameType::kExit, FrameType::kError, FrameType::kExec,
                         FrameType::kPowerOff, FrameType::kHelloRequest, FrameType::kResume}) {
    FrameDecoder d;
    d.Feed(EncodeFrame(type, "payload\0with nul"));
    auto f = d.Next();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->type, type);
    EXPECT_EQ(f->payload, "payload");
    EXPECT_FALSE(d.Next().has_value());
    EXPECT_FALSE(d.failed());
  }
}

TEST(AgentFrameTest, ReassemblesFramesFedOneByteAtATime) {
  const std::string payload(70000 - 10000, 'x');
  std::string stream = EncodeFrame(FrameType::kStdout, payload) +
                       EncodeFrame(FrameType::kStderr, "err") +
                       EncodeFrame(FrameType::kExit, "exit 3\n");
  FrameDecoder d;
  std::vector<Frame> frames;
  for (char c : stream) {
    d.Feed(std::string_view(&c, 1));
    while (auto f = d.Next()) frames.push_back(*f);
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].payload, payload);
  EXPECT_EQ(frames[1].payload, "err");
  EXPECT_EQ(frames[2].type, FrameType::kExit);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(AgentFrameTest, AcceptsThePayloadLimitExactly) {
  FrameDecoder d;
  d.Feed(EncodeFrame(FrameType::kStdout, std::string(kMaxFramePayload, 'a')));
  auto f = d.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->payload.size(), kMaxFramePayload);
}

struct BadHeader {
  const char* name;
  std::string bytes;
  const char* error_part;
};

class AgentFrameBadHeaderTest : public ::testing::TestWithParam<BadHeader> {};

TEST_P(AgentFrameBadHeaderTest, FailsForGoodAndSaysWhy) {
  FrameDecoder d;
  d.Feed(GetParam().bytes);
  EXPECT_FALSE(d.Next().has_value());
  ASSERT_TRUE(d.failed());
  EXPECT_NE(d.error().find(GetParam().error_part), std::string::npos) << d.error();
  d.Feed(EncodeFrame(FrameType::kStdout, "later"));
  EXPECT_FALSE(d.Next().has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, AgentFrameBadHeaderTest,
    ::testing::Values(BadHeader{"UnknownType", Header(99, 1, 0, 0, 0), "unknown frame type"},
                      BadHeader{"ZeroType", Header(0, 1, 0, 0, 0), "unknown frame type"},
                      BadHeader{"AfterPtyOutput", Header(7, 1, 0, 0, 0), "unknown frame type"},
                      BadHeader{"AfterPtyResize", Header(26, 1, 0, 0, 0), "unknown frame type"},
                      BadHeader{"WrongVersion", Header(2, 7, 0, 0, 0), "version"},
                      BadHeader{"ReservedSet", Header(2, 1, 0, 1, 0), "reserved"},
                      BadHeader{"TooLong", Header(2, 1, 0, 0, kMaxFramePayload + 1), "exceeds"},
                      BadHeader{"HugeLength", Header(2, 1, 0, 0, 0xffffffffu), "exceeds"}),
    [](const ::testing::TestParamInfo<BadHeader>& info) { return std::string(info.param.name); });

TEST(AgentFrameTest, ExecPayloadRoundTrips) {
  const std::vector<std::string> argv = {"sh", "-c", "echo 'a b' $NVLAB_PMEM", ""};
  auto payload = EncodeExec(argv);
  ASSERT_TRUE(payload.has_value());
  auto back = DecodeExec(*payload);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, argv);
}

TEST(AgentFrameTest, ExecRejectsEmptyNulAndOversizedArgv) {
  EXPECT_FALSE(EncodeExec({}).has_value());
  EXPECT_FALSE(EncodeExec({std::string("a\0b", 3)}).has_value());
  EXPECT_FALSE(EncodeExec({std::string(kMaxFramePayload, 'x')}).has_value());
  EXPECT_FALSE(DecodeExec("").has_value());
  EXPECT_FALSE(DecodeExec("no-terminator").has_value());
  EXPECT_FALSE(DecodeExec(std::string_view("\0", 1)).has_value());
}

TEST(AgentFrameTest, ExitPayloadIsParsedStrictly) {
  auto ok = DecodeExit("exit 42\n");
  ASSERT_TRUE(ok.has_value());
  EXPECT_FALSE(ok->signaled);
  EXPECT_EQ(ok->ShellStatus(), 42);
  auto sig = DecodeExit("signal 9\n");
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(sig->signaled);
  EXPECT_EQ(sig->ShellStatus(), 137);
  for (const char* bad :
       {"exit 256\n", "exit -1\n", "exit 1", "exit  1\n", "exit 1x\n", "signal 0\n", "signal 65\n",
        "quit 0\n", "", "exit \n", "exit 99999999999\n",
        // One text per status (found by fuzz/lab/agent_frame_fuzzer): no sign, no leading zero.
        "exit -0\n", "exit 01\n", "exit 007\n", "signal 09\n", "signal -9\n", "exit +1\n"}) {
    EXPECT_FALSE(DecodeExit(bad).has_value()) << bad;
  }
  for (CommandStatus s :
       {CommandStatus{false, 0}, CommandStatus{false, 255}, CommandStatus{true, 15}}) {
    auto back = DecodeExit(EncodeExit(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->signaled, s.signaled);
    EXPECT_EQ(back->value, s.value);
  }
}

TEST(AgentFrameTest, HelloRequestIsTypeEighteenOnTheWire) {
  const std::string frame = EncodeFrame(FrameType::kHelloRequest, "n0");
  ASSERT_EQ(frame.size(), kFrameHeaderSize + 2);
  EXPECT_EQ(frame[0], 18);
}

TEST(AgentFrameTest, HelloRequestNonceRoundTrips) {
  for (const std::string& nonce : {std::string("a"), std::string("0123456789abcdef"),
                                   std::string(" ~!x=y"), std::string(kMaxHelloNonce, 'z')}) {
    const auto payload = EncodeHelloRequest(nonce);
    ASSERT_TRUE(payload.has_value()) << nonce;
    const auto back = DecodeHelloRequest(*payload);
    ASSERT_TRUE(back.has_value()) << nonce;
    EXPECT_EQ(*back, nonce);
    EXPECT_EQ(HelloRequestLine(*back), "request=" + nonce + "\n");
  }
}

TEST(AgentFrameTest, HelloRequestRefusesNoncesThatAreNotShortPrintableAscii) {
  const std::vector<std::string> bad = {
      "",
      std::string(kMaxHelloNonce + 1, 'z'),
      "line\nbreak",
      "tab\there",
      std::string("nul\0", 4),
      "del\x7f",
      "high\xc3\xa9",
      "\x1b[31m",
  };
  for (const std::string& nonce : bad) {
    EXPECT_FALSE(IsValidHelloNonce(nonce)) << nonce;
    EXPECT_FALSE(EncodeHelloRequest(nonce).has_value()) << nonce;
    EXPECT_FALSE(DecodeHelloRequest(nonce).has_value()) << nonce;
  }
}

}  // namespace
}  // namespace nvlab
