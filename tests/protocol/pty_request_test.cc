// pty_request_test.cc -- the payloads of the interactive-terminal frames (nvlab shell), including
// hostile input, and the frames themselves through FrameDecoder.

#include "nvlab/pty_request.h"

#include <gtest/gtest.h>

#include "nvlab/agent_frame.h"

namespace nvlab {
namespace {

TEST(PtyRequestTest, OpenRoundTrips) {
  PtyOpenRequest request;
  request.size = {30, 100};
  request.term = "xterm-256color";
  const auto payload = EncodePtyOpen(request);
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(*payload, "rows=30\ncols=100\nterm=xterm-256color\n");
  const auto decoded = DecodePtyOpen(*payload);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->size, request.size);
  EXPECT_EQ(decoded->term, request.term);
}

TEST(PtyRequestTest, ResizeRoundTrips) {
  const auto payload = EncodePtyResize({1, 9999});
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(*payload, "rows=1\ncols=9999\n");
  EXPECT_EQ(DecodePtyResize(*payload), (PtyWindowSize{1, 9999}));
}

TEST(PtyRequestTest, EncodeRefusesWhatTheAgentWouldRefuse) {
  EXPECT_FALSE(EncodePtyResize({0, 80}).has_value());
  EXPECT_FALSE(EncodePtyResize({24, 10000}).has_value());
  PtyOpenRequest request;
  request.term = "";
  EXPECT_FALSE(EncodePtyOpen(request).has_value());
  request.term = "xterm\n";
  EXPECT_FALSE(EncodePtyOpen(request).has_value());
  request.term = std::string(kMaxPtyTerm + 1, 'x');
  EXPECT_FALSE(EncodePtyOpen(request).has_value());
  request.term = std::string(kMaxPtyTerm, 'x');
  EXPECT_TRUE(EncodePtyOpen(request).has_value());
}

TEST(PtyRequestTest, DecodeIsStrict) {
  for (const char* bad :
       {"", "rows=24\ncols=80\n", "rows=24\ncols=80\nterm=vt100", "cols=80\nrows=24\nterm=vt100\n",
        "rows=024\ncols=80\nterm=vt100\n", "rows=0\ncols=80\nterm=vt100\n",
        "rows=10000\ncols=80\nterm=vt100\n", "rows=-1\ncols=80\nterm=vt100\n",
        "rows=+1\ncols=80\nterm=vt100\n", "rows=24\ncols=80\nterm=\n",
        "rows=24\ncols=80\nterm=a b\n", "rows=24\ncols=80\nterm=vt100\nterm=vt100\n",
        "rows=24\ncols=80\nterm=vt100\nextra=1\n", "rows=\ncols=80\nterm=x\n",
        "rowsx=24\ncols=80\nterm=x\n", "rows=24\ncols=80\nterm=\x1b[2J\n"}) {
    EXPECT_FALSE(DecodePtyOpen(bad).has_value()) << bad;
  }
  for (const char* bad : {"", "rows=24\n", "rows=24\ncols=80", "rows=24\ncols=80\n\n",
                          "rows=24\ncols=80\nterm=x\n", "rows=99999\ncols=80\n"}) {
    EXPECT_FALSE(DecodePtyResize(bad).has_value()) << bad;
  }
}

TEST(PtyRequestTest, PtyFramesDecode) {
  FrameDecoder d;
  for (FrameType type :
       {FrameType::kPtyOutput, FrameType::kPtyOpen, FrameType::kPtyInput, FrameType::kPtyResize}) {
    d.Feed(EncodeFrame(type, std::string("\x03\x1b[A\0", 5)));
    const auto f = d.Next();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->type, type);
    EXPECT_EQ(f->payload, std::string("\x03\x1b[A\0", 5));
  }
  // An empty pty-input (the host's input ended) and pty-output (a keep-alive) are frames too.
  d.Feed(EncodeFrame(FrameType::kPtyInput, ""));
  const auto f = d.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_TRUE(f->payload.empty());
  EXPECT_FALSE(d.failed());
}

}  // namespace
}  // namespace nvlab
