// resume_request_test.cc -- the kResume payload: round trips and hostile or malformed input.

#include "nvlab/resume_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nvlab {
namespace {

ResumeRequest Sample() {
  ResumeRequest r;
  r.nonce = "0123456789abcdef";
  for (size_t i = 0; i < r.seed.size(); ++i) r.seed[i] = static_cast<uint8_t>(i * 7 + 1);
  r.has_realtime = true;
  r.realtime_seconds = 1796515200;
  r.realtime_nanoseconds = 5;
  r.ns = "fsdax";
  r.fs = "xfs";
  r.nvdimms = 2;
  r.share = true;
  r.blank = {0x100000000, 0xffffffffffffffff};
  return r;
}

std::string Encoded(const ResumeRequest& r) {
  auto text = EncodeResumeRequest(r);
  EXPECT_TRUE(text.has_value());
  return text.value_or("");
}

TEST(ResumeRequestTest, RoundTripsEveryField) {
  const ResumeRequest r = Sample();
  const std::string text = Encoded(r);
  EXPECT_NE(text.find("realtime=1796515200.000000005\n"), std::string::npos) << text;
  auto back = DecodeResumeRequest(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->nonce, r.nonce);
  EXPECT_EQ(back->seed, r.seed);
  EXPECT_TRUE(back->has_realtime);
  EXPECT_EQ(back->realtime_seconds, r.realtime_seconds);
  EXPECT_EQ(back->realtime_nanoseconds, r.realtime_nanoseconds);
  EXPECT_EQ(back->ns, "fsdax");
  EXPECT_EQ(back->fs, "xfs");
  EXPECT_EQ(back->nvdimms, 2);
  EXPECT_TRUE(back->share);
  EXPECT_EQ(back->blank, r.blank);
  EXPECT_NE(text.find("blank=0x100000000,0xffffffffffffffff\n"), std::string::npos) << text;
}

TEST(ResumeRequestTest, BlankIsOptional) {
  ResumeRequest r = Sample();
  r.blank.clear();
  const std::string text = Encoded(r);
  EXPECT_EQ(text.find("blank"), std::string::npos);
  auto back = DecodeResumeRequest(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->blank.empty());
  r.blank = {0};
  back = DecodeResumeRequest(Encoded(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->blank, std::vector<uint64_t>{0});
}

TEST(ResumeRequestTest, RealtimeIsOptional) {
  ResumeRequest r = Sample();
  r.has_realtime = false;
  const std::string text = Encoded(r);
  EXPECT_EQ(text.find("realtime"), std::string::npos);
  auto back = DecodeResumeRequest(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_FALSE(back->has_realtime);
}

TEST(ResumeRequestTest, EncodeRefusesFieldsOutOfRange) {
  auto refused = [](void (*change)(ResumeRequest*)) {
    ResumeRequest r = Sample();
    change(&r);
    return !EncodeResumeRequest(r).has_value();
  };
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->nonce = ""; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->nonce = "a\nb"; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->ns = "sector"; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->fs = "btrfs"; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->nvdimms = 0; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->nvdimms = kMaxResumeNvdimms + 1; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->realtime_nanoseconds = 1000000000; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->realtime_seconds = -1; }));
  // More blank NVDIMMs than NVDIMMs, or not strictly ascending (a repeated one).
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->blank = {1, 2, 3}; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->blank = {2, 1}; }));
  EXPECT_TRUE(refused([](ResumeRequest* r) { r->blank = {1, 1}; }));
  // 19 digits: the decoder reads at most 18, so the encoder must not write them (found by
  // fuzz/lab/resume_request_fuzzer).
  EXPECT_TRUE(
      refused([](ResumeRequest* r) { r->realtime_seconds = kMaxResumeRealtimeSeconds + 1; }));
}

TEST(ResumeRequestTest, EveryEncodableClockDecodes) {
  ResumeRequest r = Sample();
  r.realtime_seconds = kMaxResumeRealtimeSeconds;
  r.realtime_nanoseconds = 999999999;
  auto back = DecodeResumeRequest(Encoded(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->realtime_seconds, kMaxResumeRealtimeSeconds);
  EXPECT_EQ(back->realtime_nanoseconds, 999999999);
}

TEST(ResumeRequestTest, DecodeRefusesMalformedPayloads) {
  const std::string good = Encoded(Sample());
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    return text;
  };
  const std::vector<std::string> bad = {
      "",
      good.substr(0, good.size() - 1),  // last line without \n
      good + "extra=1\n",               // unknown key
      good + "share=1\n",               // repeated key
      replaced("share=1\n", ""),        // missing key
      replaced("share=1", "share=yes"),
      replaced("nvdimms=2", "nvdimms=0"),
      replaced("nvdimms=2", "nvdimms=-2"),
      replaced("nvdimms=2", "nvdimms=999999999999999999999"),
      replaced("ns=fsdax", "ns=FSDAX"),
      replaced("fs=xfs", "fs="),
      replaced("seed=01", "seed=0G"),
      replaced("seed=01", "seed=1"),   // 63 digits
      replaced("seed=01", "seed=0A"),  // upper case is not the encoding
      replaced("realtime=1796515200.000000005", "realtime=1796515200.5"),
      replaced("realtime=1796515200.000000005", "realtime=-1.000000000"),
      replaced("realtime=1796515200.000000005", "realtime=17965152000000000000.000000000"),
      replaced("realtime=1796515200.000000005", "realtime=1796515200"),
      replaced("request=0123456789abcdef", "request="),
      replaced("request=0123456789abcdef", "request=" + std::string(65, 'n')),
      replaced("\nns=", "\nno equals sign\nns="),
      replaced("blank=0x100000000,", "blank=,"),  // an empty item
      replaced("blank=0x100000000,", "blank=0x100000000,,"),
      replaced("blank=0x100000000,0xffffffffffffffff", "blank="),
      replaced("blank=0x100000000", "blank=100000000"),  // no 0x
      replaced("blank=0x100000000", "blank=0X100000000"),
      replaced("blank=0x100000000", "blank=0x"),
      replaced("blank=0x100000000", "blank=0x1000000000000000000"),  // 19 digits
      replaced("blank=0x100000000", "blank=0x10000000A"),            // upper case
      replaced("blank=0x100000000", "blank=0xfffffffffffffffff"),    // 17 digits
      replaced("blank=0x100000000,0xffffffffffffffff", "blank=0x2,0x1"),
      replaced("blank=0x100000000,0xffffffffffffffff", "blank=0x1,0x1"),
      replaced("blank=0x100000000,0xffffffffffffffff", "blank=0x1,0x2,0x3"),  // 3 > nvdimms
      replaced("blank=0x100000000", "blank=0x100000000 "),
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(DecodeResumeRequest(text).has_value()) << text;
  }
  EXPECT_TRUE(DecodeResumeRequest(good).has_value());
}

}  // namespace
}  // namespace nvlab
