// Tests of the cut report's JSON text.
#include "cut_report_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nvlab::plugin {
namespace {

TEST(CutReportJsonTest, ContainsTheFieldsOfFormatVersionOne) {
  model::PowerCutReport cut;
  cut.platform = model::Platform::kEadr;
  cut.policy = model::CutPolicy::Random(9, 0.5);
  model::LostLine line;
  line.nvdimm = 1;
  line.offset = 0x40;
  line.gpa = 0x140000040;
  line.state = model::LineState::kWcBuffer;
  line.site_known = true;
  line.last_store = {0x401000, 0x1234000};
  cut.lost.push_back(line);
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
  EXPECT_EQ(JsonString(std::string("\n\x01\xff", 3)), "\"\\u000a\\u0001\\u00ff\"");
}

}  // namespace
}  // namespace nvlab::plugin
