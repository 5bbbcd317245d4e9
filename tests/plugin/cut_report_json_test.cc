// Tests of the cut report's JSON text.
#include "cut_report_json.h"

#include <gtest/gtest.h>

#include <climits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nvlab::plugin {
namespace {

// LostLineOfNvdimm1 is the line at offset 0x40 of NVDIMM 1 (at 0x140000000), lost in `state`,
// last stored at the known site `last_store`.
model::LostLine LostLineOfNvdimm1(model::LineState state, const model::StoreSite& last_store) {
  model::LostLine line;
  line.nvdimm = 1;
  line.offset = 0x40;
  line.gpa = 0x140000040;
  line.state = state;
  line.site_known = true;
  line.last_store = last_store;
  return line;
}

TEST(CutReportJsonTest, ContainsTheFieldsOfFormatVersionOne) {
  model::PowerCutReport cut;
  cut.platform = model::Platform::kEadr;
  cut.policy = model::CutPolicy::Random(9, 0.5);
  cut.lost.push_back(LostLineOfNvdimm1(model::LineState::kWcBuffer, {0x401000, 0x1234000}));
  cut.lost_lines = 5;
  cut.lost_wc_buffer = 5;
  std::vector<NvdimmOption> nvdimms = {{0, 0x100000000, 4096, "/a"}, {1, 0x140000000, 4096, "/b"}};
  CutReportInput in;
  in.trigger = "guest";
  in.policy_text = "random:9";
  in.cut = &cut;
  in.nvdimms = &nvdimms;
  in.unresolved_flushes = 2;
  in.unresolved_flush_pcs = {0xffffffff81000010ULL};
  in.kernel_completions = 4;
  in.kernel_completion_samples = {{0xffffffff81c0a3b5ULL, 0x4019f0}, {0xffffffff81000000ULL, 0x1}};
  std::string json = FormatCutReportJson(in);
  for (
      const char* expected :
      {"\"version\": 1", "\"trigger\": \"guest\"", "\"persistence\": \"eadr\"",
       "\"policy\": \"random\"", "\"seed\": 9", "\"p\": 0.5",
       R"({"nvdimm": 1, "offset": "0x40", "gpa": "0x140000040", "state": "wc-buffer", "pc": "0x401000", "cr3": "0x1234000"})",
       "\"lost_lines_listed\": 1", "\"lost_lines\": 5", "\"unresolved_flushes\": 2",
       "\"unresolved_flush_pcs\": [\"0xffffffff81000010\"]", "\"user_work_completed_in_kernel\": 4",
       R"({"fence_pc": "0xffffffff81c0a3b5", "user_pc": "0x4019f0"},)",
       R"({"fence_pc": "0xffffffff81000000", "user_pc": "0x1"})",
       "{\"index\": 1, \"gpa\": \"0x140000000\", \"size\": 4096, \"path\": \"/b\"}"}) {
    EXPECT_NE(json.find(expected), std::string::npos) << expected << "\n" << json;
  }
  EXPECT_EQ(json.back(), '\n');
}

TEST(CutReportJsonTest, LineWithoutKnownSiteHasNoPc) {
  model::PowerCutReport cut;
  cut.lost.push_back(model::LostLine{});
  cut.lost_lines = 1;
  CutReportInput in;
  in.cut = &cut;
  std::string json = FormatCutReportJson(in);
  EXPECT_EQ(json.find("\"pc\""), std::string::npos);
  EXPECT_NE(json.find("\"state\": \"dirty\""), std::string::npos);
}

TEST(CutReportJsonTest, AKnownProcessIsNamedWithItsCommEscaped) {
  model::PowerCutReport cut;
  model::LostLine line;
  line.site_known = true;
  line.last_store = {0x401000, 0x1234000, 2};
  cut.lost.push_back(line);
  line.last_store = {0x401010, 0x1234000, 3};  // Past the table: no process.
  cut.lost.push_back(line);
  line.last_store = {0x401020, 0x1234000, 0};  // Unknown.
  cut.lost.push_back(line);
  std::vector<GuestTask> processes = {{0xffff888000100000ULL, 1, 1, "init"},
                                      {0xffff888000200000ULL, 42, 40, "a\x1b[2J\"b"}};
  CutReportInput in;
  in.cut = &cut;
  in.processes = &processes;
  std::string json = FormatCutReportJson(in);
  EXPECT_NE(
      json.find(
          R"("pc": "0x401000", "cr3": "0x1234000", "process": {"pid": 42, "tgid": 40, "comm": "a\u001b[2J\"b"}})"),
      std::string::npos)
      << json;
  EXPECT_EQ(json.find("\"pid\": 1,"), std::string::npos) << json;
  size_t processes_named = 0;
  for (size_t at = json.find("\"process\""); at != std::string::npos;
       at = json.find("\"process\"", at + 1)) {
    ++processes_named;
  }
  EXPECT_EQ(processes_named, 1u) << json;
}

TEST(CutReportJsonTest, StringsAreEscaped) {
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString(std::string("\n\x01\x7f\xff", 4)), "\"\\n\\u0001\\u007f\\u00ff\"");
}

// Every byte value, and sequences that are not UTF-8, come back from a JSON reader one
// character per byte (U+0000..U+00FF), and the text is ASCII.
TEST(CutReportJsonTest, AnyBytesGiveAsciiJsonThatReadsBackAsTheBytes) {
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes += static_cast<char>(c);
  bytes += "\xc3\x28\xed\xa0\x80\xf8\x88\x80\x80\x80\xc3";  // Invalid or truncated UTF-8.
  model::PowerCutReport cut;
  model::LostLine line;
  line.site_known = true;
  line.last_store.context = 1;
  cut.lost.push_back(line);
  const std::vector<GuestTask> processes = {{0, 1, 1, bytes}};
  const std::vector<NvdimmOption> nvdimms = {{0, 0x100000000, 4096, bytes}};
  CutReportInput in;
  in.trigger = bytes;
  in.policy_text = bytes;
  in.cut = &cut;
  in.nvdimms = &nvdimms;
  in.processes = &processes;
  std::string json;
  ASSERT_NO_THROW(json = FormatCutReportJson(in));
  for (unsigned char c : json) {
    ASSERT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << static_cast<int>(c);
  }
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << json;
  std::u32string expected;
  for (unsigned char c : bytes) expected += static_cast<char32_t>(c);
  for (const nlohmann::json* value :
       {&doc["trigger"], &doc["policy_text"], &doc["nvdimms"][0]["path"],
        &doc["lost_lines"][0]["process"]["comm"]}) {
    const std::string utf8 = value->get<std::string>();
    std::u32string decoded;
    for (size_t i = 0; i < utf8.size(); ++i) {
      const auto c = static_cast<unsigned char>(utf8[i]);
      if (c < 0x80) {
        decoded += c;
      } else {
        ASSERT_TRUE((c == 0xc2 || c == 0xc3) && i + 1 < utf8.size());
        decoded += static_cast<char32_t>(((c & 0x03) << 6) | (utf8[++i] & 0x3f));
      }
    }
    EXPECT_TRUE(decoded == expected);
  }
}

TEST(CutReportJsonTest, PHasSixSignificantDigitsAndIsZeroUnlessRandom) {
  model::PowerCutReport cut;
  CutReportInput in;
  in.cut = &cut;
  cut.policy = model::CutPolicy::Random(1, 0.123456789);
  EXPECT_NE(FormatCutReportJson(in).find("\n  \"p\": 0.123457,\n"), std::string::npos);
  cut.policy = model::CutPolicy::Random(1, 1.0);
  EXPECT_NE(FormatCutReportJson(in).find("\n  \"p\": 1,\n"), std::string::npos);
  cut.policy = model::CutPolicy::Keep();
  EXPECT_NE(FormatCutReportJson(in).find("\n  \"p\": 0,\n"), std::string::npos);
}

// The whole text: one member per line, one lost line (NVDIMM, kernel completion) per line,
// two-space indents. Readers need not depend on the layout, but people read these files.
TEST(CutReportJsonTest, TheLayoutIsOneLostLinePerLine) {
  model::PowerCutReport cut;
  cut.platform = model::Platform::kAdr;
  cut.policy = model::CutPolicy::Random(18446744073709551615ULL, 0.25);
  cut.lost.push_back(model::LostLine{});
  cut.lost.push_back(
      LostLineOfNvdimm1(model::LineState::kFlushPending, {0xffffffffffffffffULL, 0x1234000, 1}));
  cut.lost_lines = 7;
  cut.lost_dirty = 5;
  cut.lost_flush_pending = 2;
  const std::vector<GuestTask> processes = {{0, -3, INT32_MIN, "p\xe9"}};
  const std::vector<NvdimmOption> nvdimms = {{0, 0x100000000, 4096, "/a"},
                                             {1, 0x140000000, 4096, "/b"}};
  CutReportInput in;
  in.trigger = "host";
  in.policy_text = "random:18446744073709551615:0.25";
  in.cut = &cut;
  in.counters.stores = 1;
  in.counters.nt_stores = 2;
  in.counters.flushes = 3;
  in.counters.fences = 4;
  in.counters.ordering_fences = 5;
  in.counters.wbinvds = 6;
  in.nvdimms = &nvdimms;
  in.lines_rewritten = 7;
  in.unresolved_flushes = 8;
  in.unresolved_flush_pcs = {0x401000, 0x401010};
  in.translated_flushes = 9;
  in.processes = &processes;
  in.kernel_completions = 10;
  in.kernel_completion_samples = {{0xffffffff81c0a3b5ULL, 0x4019f0}};
  EXPECT_EQ(FormatCutReportJson(in), R"({
  "format": "nvlab-cut-report",
  "version": 1,
  "trigger": "host",
  "nvdimm_sync": "ok",
  "persistence": "adr",
  "policy": "random",
  "policy_text": "random:18446744073709551615:0.25",
  "seed": 18446744073709551615,
  "p": 0.25,
  "nvdimms": [
    {"index": 0, "gpa": "0x100000000", "size": 4096, "path": "/a"},
    {"index": 1, "gpa": "0x140000000", "size": 4096, "path": "/b"}
  ],
  "lost_lines": [
    {"nvdimm": 0, "offset": "0x0", "gpa": "0x0", "state": "dirty"},
    {"nvdimm": 1, "offset": "0x40", "gpa": "0x140000040", "state": "flush-pending", "pc": "0xffffffffffffffff", "cr3": "0x1234000", "process": {"pid": -3, "tgid": -2147483648, "comm": "p\u00e9"}}
  ],
  "lost_lines_listed": 2,
  "totals": {
    "lost_lines": 7,
    "lost_dirty": 5,
    "lost_flush_pending": 2,
    "lost_wc_buffer": 0,
    "lines_rewritten": 7,
    "stores": 1,
    "nt_stores": 2,
    "flushes": 3,
    "translated_flushes": 9,
    "fences": 4,
    "ordering_fences": 5,
    "wbinvds": 6,
    "unresolved_flushes": 8,
    "user_work_completed_in_kernel": 10
  },
  "kernel_completions": [
    {"fence_pc": "0xffffffff81c0a3b5", "user_pc": "0x4019f0"}
  ],
  "unresolved_flush_pcs": ["0x401000", "0x401010"]
}
)");
}

TEST(CutReportJsonTest, AFailedNvdimmSyncIsSaidWithItsReason) {
  model::PowerCutReport cut;
  std::vector<NvdimmOption> nvdimms = {{0, 0x100000000, 4096, "/a"}};
  CutReportInput in;
  in.trigger = "guest";
  in.cut = &cut;
  in.nvdimms = &nvdimms;
  const nlohmann::json ok = nlohmann::json::parse(FormatCutReportJson(in));
  EXPECT_EQ(ok["nvdimm_sync"], "ok");
  EXPECT_FALSE(ok.contains("nvdimm_sync_error"));
  in.nvdimm_sync_error = "Input/output error";
  const nlohmann::json failed = nlohmann::json::parse(FormatCutReportJson(in));
  EXPECT_EQ(failed["nvdimm_sync"], "failed");
  EXPECT_EQ(failed["nvdimm_sync_error"], "Input/output error");
}

TEST(CutReportJsonTest, EmptyListsAreOnOneLine) {
  model::PowerCutReport cut;
  CutReportInput in;
  in.cut = &cut;
  const std::string json = FormatCutReportJson(in);
  for (const char* expected :
       {"\n  \"nvdimms\": [],\n", "\n  \"lost_lines\": [],\n", "\n  \"kernel_completions\": [],\n",
        "\n  \"unresolved_flush_pcs\": []\n}\n"}) {
    EXPECT_NE(json.find(expected), std::string::npos) << expected << "\n" << json;
  }
}

}  // namespace
}  // namespace nvlab::plugin
