// cut_report_test.cc -- ParseCutReport on valid, old, extended and malformed reports; the text
// nvlab prints for a cut (DescribeLostLine, CutSummary) and the JSON it embeds (CutReportJson).

#include "nvlab/cut_report.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cut_report_json.h"
#include "lab_session.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

using Json = nlohmann::json;

// kDocExampleReport is docs/formats/cut-report.md's example: its lost lines name no process.
constexpr const char* kDocExampleReport = R"({
  "format": "nvlab-cut-report",
  "version": 1,
  "trigger": "guest",
  "nvdimm_sync": "ok",
  "persistence": "adr",
  "policy": "lose",
  "policy_text": "lose",
  "seed": 0,
  "p": 0,
  "nvdimms": [
    {"index": 0, "gpa": "0x100000000", "size": 268435456, "path": "/run/x/nvdimm0.img"}
  ],
  "lost_lines": [
    {"nvdimm": 0, "offset": "0x200040", "gpa": "0x100200040", "state": "dirty"},
    {"nvdimm": 0, "offset": "0x2001c0", "gpa": "0x1002001c0", "state": "wc-buffer",
     "pc": "0x401a2c", "cr3": "0x1234000"}
  ],
  "lost_lines_listed": 2,
  "totals": {
    "lost_lines": 2, "lost_dirty": 1, "lost_flush_pending": 0, "lost_wc_buffer": 1,
    "lines_rewritten": 2, "stores": 0, "nt_stores": 1, "flushes": 7,
    "translated_flushes": 7, "fences": 423, "ordering_fences": 6, "wbinvds": 0,
    "unresolved_flushes": 0
  },
  "unresolved_flush_pcs": []
})";

// ValidReport is kDocExampleReport with a process on the second line, as --trace-stores gives.
Json ValidReport() {
  Json j = Json::parse(kDocExampleReport);
  j["lost_lines"][1]["process"] = {{"pid", 124}, {"tgid", 123}, {"comm", "nvlab-litmus"}};
  return j;
}

Status Parse(const Json& j, CutReport* report) {
  return ParseCutReport(j.dump(), report);
}

TEST(ParseCutReportTest, ReadsEveryFieldOfAReportWithProcesses) {
  CutReport r;
  const Status s = Parse(ValidReport(), &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(r.present);
  EXPECT_EQ(Json::parse(r.json), ValidReport());
  EXPECT_EQ(r.trigger, "guest");
  EXPECT_EQ(r.persistence, "adr");
  EXPECT_EQ(r.policy, "lose");
  EXPECT_EQ(r.policy_text, "lose");
  EXPECT_EQ(r.seed, 0u);
  EXPECT_EQ(r.p, 0.0);
  ASSERT_EQ(r.nvdimms.size(), 1u);
  EXPECT_EQ(r.nvdimms[0].index, 0u);
  EXPECT_EQ(r.nvdimms[0].gpa, 0x100000000u);
  EXPECT_EQ(r.nvdimms[0].size, 268435456u);
  EXPECT_EQ(r.nvdimms[0].path, "/run/x/nvdimm0.img");
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].nvdimm, 0u);
  EXPECT_EQ(r.lines[0].offset, 0x200040u);
  EXPECT_EQ(r.lines[0].gpa, 0x100200040u);
  EXPECT_EQ(r.lines[0].state, "dirty");
  EXPECT_FALSE(r.lines[0].pc);
  EXPECT_FALSE(r.lines[0].cr3);
  EXPECT_FALSE(r.lines[0].process);
  EXPECT_EQ(r.lines[1].state, "wc-buffer");
  EXPECT_EQ(r.lines[1].pc, 0x401a2cu);
  EXPECT_EQ(r.lines[1].cr3, 0x1234000u);
  ASSERT_TRUE(r.lines[1].process);
  EXPECT_EQ(r.lines[1].process->pid, 124);
  EXPECT_EQ(r.lines[1].process->tgid, 123);
  EXPECT_EQ(r.lines[1].process->comm, "nvlab-litmus");
  EXPECT_EQ(r.lines[1].symbol, "");
  EXPECT_EQ(r.lost_lines, 2u);
  EXPECT_EQ(r.totals.lost_dirty, 1u);
  EXPECT_EQ(r.totals.lost_flush_pending, 0u);
  EXPECT_EQ(r.totals.lost_wc_buffer, 1u);
  EXPECT_EQ(r.totals.lines_rewritten, 2u);
  EXPECT_EQ(r.totals.stores, 0u);
  EXPECT_EQ(r.totals.nt_stores, 1u);
  EXPECT_EQ(r.totals.flushes, 7u);
  EXPECT_EQ(r.totals.translated_flushes, 7u);
  EXPECT_EQ(r.totals.fences, 423u);
  EXPECT_EQ(r.totals.ordering_fences, 6u);
  EXPECT_EQ(r.totals.wbinvds, 0u);
  EXPECT_EQ(r.totals.unresolved_flushes, 0u);
  EXPECT_TRUE(r.unresolved_flush_pcs.empty());
}

TEST(ParseCutReportTest, OldReportWithoutProcessesParses) {
  CutReport r;
  ASSERT_TRUE(ParseCutReport(kDocExampleReport, &r).ok());
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_FALSE(r.lines[1].process);
  EXPECT_EQ(r.lines[1].pc, 0x401a2cu);
}

TEST(ParseCutReportTest, UnknownFieldsAreIgnoredAtEveryLevel) {
  Json j = ValidReport();
  j["later"] = {{"nested", {1, 2, 3}}};
  j["nvdimms"][0]["numa_node"] = 1;
  j["lost_lines"][0]["bytes"] = "0xff";
  j["lost_lines"][1]["process"]["cgroup"] = "/a";
  j["totals"]["clflushes"] = 4;
  CutReport r;
  const Status s = Parse(j, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.lines[1].process->comm, "nvlab-litmus");
  EXPECT_EQ(Json::parse(r.json)["later"]["nested"][2], 3);
}

TEST(ParseCutReportTest, ReadsFullWidthHexAndUnresolvedPcs) {
  Json j = ValidReport();
  j["lost_lines"][1]["pc"] = "0xFFFFFFFF81000010";
  j["unresolved_flush_pcs"] = {"0x401000", "0xffffffffffffffff"};
  j["totals"]["unresolved_flushes"] = 9;
  CutReport r;
  ASSERT_TRUE(Parse(j, &r).ok());
  EXPECT_EQ(r.lines[1].pc, 0xffffffff81000010u);
  EXPECT_EQ(r.unresolved_flush_pcs, (std::vector<uint64_t>{0x401000, ~uint64_t{0}}));
  EXPECT_EQ(r.totals.unresolved_flushes, 9u);
}

TEST(ParseCutReportTest, KernelCompletionsAreOptionalAndReadWhenPresent) {
  CutReport old;
  ASSERT_TRUE(ParseCutReport(kDocExampleReport, &old).ok());
  EXPECT_EQ(old.totals.user_work_completed_in_kernel, 0u);
  EXPECT_TRUE(old.kernel_completions.empty());

  Json j = ValidReport();
  j["totals"]["user_work_completed_in_kernel"] = 11;
  j["kernel_completions"] = {{{"fence_pc", "0xffffffff81c0a3b5"}, {"user_pc", "0x4019f0"}},
                             {{"fence_pc", "0xffffffff81000000"}, {"user_pc", "0x401000"}}};
  CutReport r;
  const Status s = Parse(j, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.totals.user_work_completed_in_kernel, 11u);
  ASSERT_EQ(r.kernel_completions.size(), 2u);
  EXPECT_EQ(r.kernel_completions[0].fence_pc, 0xffffffff81c0a3b5u);
  EXPECT_EQ(r.kernel_completions[0].user_pc, 0x4019f0u);
  EXPECT_EQ(r.kernel_completions[1].user_pc, 0x401000u);
}

TEST(ParseCutReportTest, CommIsTheGuestsBytesAsThePluginEscapedThem) {
  // The plugin writes every byte >= 0x7f and every control byte as \u00XX.
  const std::string text =
      std::string(kDocExampleReport)
          .replace(
              std::string(kDocExampleReport).find("\"cr3\": \"0x1234000\""), 18,
              R"("cr3": "0x1234000", "process": {"pid": 1, "tgid": 1, "comm": "a\u001b[2J\u00e9\\\u00ff"})");
  CutReport r;
  const Status s = ParseCutReport(text, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.lines[1].process->comm, "a\x1b[2J\xe9\\\xff");
}

TEST(ParseCutReportTest, TheWritersReportParses) {
  model::PowerCutReport cut;
  cut.platform = model::Platform::kEadr;
  cut.policy = model::CutPolicy::Random(9, 0.25);
  model::LostLine line;
  line.nvdimm = 1;
  line.offset = 0x40;
  line.gpa = 0x140000040;
  line.state = model::LineState::kFlushPending;
  line.site_known = true;
  line.last_store = {0x401000, 0x1234000, 1};
  cut.lost = {model::LostLine{}, line};
  line.last_store = {0x401040, 0x1234000, 2};
  cut.lost.push_back(line);
  cut.lost_lines = 5;
  // Read from guest memory: any comm bytes, any int32.
  const std::vector<plugin::GuestTask> processes = {
      {0xffff888000100000ULL, 42, 40, "a\x1b[2J\"\\\xe9\x7f"}, {0, -3, INT32_MIN, ""}};
  std::vector<plugin::NvdimmOption> nvdimms = {{0, 0x100000000, 4096, "/a\x01"},
                                               {1, 0x140000000, 4096, "/b"}};
  plugin::CutReportInput in;
  in.trigger = "fences";
  in.policy_text = "random:9:0.25";
  in.cut = &cut;
  in.nvdimms = &nvdimms;
  in.unresolved_flushes = 2;
  in.unresolved_flush_pcs = {0xffffffff81000010ULL};
  in.processes = &processes;
  in.kernel_completions = 3;
  in.kernel_completion_samples = {{0xffffffff81c0a3b5ULL, 0x4019f0}};
  CutReport r;
  const Status s = ParseCutReport(plugin::FormatCutReportJson(in), &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.trigger, "fences");
  EXPECT_EQ(r.persistence, "eadr");
  EXPECT_EQ(r.policy, "random");
  EXPECT_EQ(r.seed, 9u);
  EXPECT_EQ(r.p, 0.25);
  EXPECT_EQ(r.nvdimms[0].path, "/a\x01");
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_FALSE(r.lines[0].process);
  EXPECT_EQ(r.lines[1].state, "flush-pending");
  EXPECT_EQ(r.lines[1].pc, 0x401000u);
  ASSERT_TRUE(r.lines[1].process);
  EXPECT_EQ(r.lines[1].process->pid, 42);
  EXPECT_EQ(r.lines[1].process->tgid, 40);
  EXPECT_EQ(r.lines[1].process->comm, "a\x1b[2J\"\\\xe9\x7f");
  ASSERT_TRUE(r.lines[2].process);
  EXPECT_EQ(r.lines[2].process->pid, -3);
  EXPECT_EQ(r.lines[2].process->tgid, INT32_MIN);
  EXPECT_EQ(r.lines[2].process->comm, "");
  EXPECT_EQ(r.lost_lines, 5u);
  EXPECT_EQ(r.unresolved_flush_pcs, std::vector<uint64_t>{0xffffffff81000010ULL});
  EXPECT_EQ(r.totals.user_work_completed_in_kernel, 3u);
  ASSERT_EQ(r.kernel_completions.size(), 1u);
  EXPECT_EQ(r.kernel_completions[0].fence_pc, 0xffffffff81c0a3b5ULL);
  EXPECT_EQ(r.kernel_completions[0].user_pc, 0x4019f0u);
}

TEST(CheckCutSyncedTest, AReportWhoseNvdimmSyncFailedIsALabFailureNamingIt) {
  CutReport r;
  ASSERT_TRUE(Parse(ValidReport(), &r).ok());
  EXPECT_EQ(r.nvdimm_sync, "ok");
  EXPECT_TRUE(CheckCutSynced(r).ok());
  Json j = ValidReport();
  j["nvdimm_sync"] = "failed";
  j["nvdimm_sync_error"] = "No space left on device\x1b[2J";
  ASSERT_TRUE(Parse(j, &r).ok());
  const Status s = CheckCutSynced(r);
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("could not sync the NVDIMM files (No space left on device"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(s.message().find('\x1b'), std::string::npos) << "the plugin's text is escaped";
  EXPECT_EQ(ExitStatusFor(s), 125);
  EXPECT_TRUE(CheckCutSynced(CutReport()).ok()) << "no model, no report: nothing to check";
}

TEST(CheckCutSyncedTest, TheWritersFailedSyncReadsBackAsFailed) {
  model::PowerCutReport cut;
  std::vector<plugin::NvdimmOption> nvdimms = {{0, 0x100000000, 4096, "/a"}};
  plugin::CutReportInput in;
  in.trigger = "guest";
  in.policy_text = "lose";
  in.cut = &cut;
  in.nvdimms = &nvdimms;
  in.nvdimm_sync_error = "Input/output error";
  CutReport r;
  ASSERT_TRUE(ParseCutReport(plugin::FormatCutReportJson(in), &r).ok());
  EXPECT_EQ(r.nvdimm_sync, "failed");
  EXPECT_EQ(r.nvdimm_sync_error, "Input/output error");
  EXPECT_FALSE(CheckCutSynced(r).ok());
}

// --- Malformed reports: one case per field, each a ProtocolError naming it ---------------------

struct Malformed {
  const char* name;
  void (*mutate)(Json*);
  const char* field;  // what the message must contain
};

class MalformedCutReportTest : public testing::TestWithParam<Malformed> {};

TEST_P(MalformedCutReportTest, IsAProtocolErrorNamingTheField) {
  Json j = ValidReport();
  GetParam().mutate(&j);
  CutReport r;
  r.present = true;
  r.lost_lines = 7;
  const Status s = Parse(j, &r);
  EXPECT_EQ(s.code(), Status::Code::kProtocolError) << s.ToString();
  EXPECT_NE(s.message().find(std::string("cut report: ") + GetParam().field), std::string::npos)
      << s.ToString();
  EXPECT_FALSE(r.present);
  EXPECT_EQ(r.lost_lines, 0u);
  EXPECT_TRUE(r.lines.empty());
}

const Malformed kMalformed[] = {
    {"FormatMissing", [](Json* j) { j->erase("format"); }, "format: missing"},
    {"FormatOther", [](Json* j) { (*j)["format"] = "nvlab-other"; }, "format: not"},
    {"VersionTwo", [](Json* j) { (*j)["version"] = 2; }, "version: 2 is not supported"},
    {"VersionString", [](Json* j) { (*j)["version"] = "1"; }, "version: not a non-negative"},
    {"TriggerMissing", [](Json* j) { j->erase("trigger"); }, "trigger: missing"},
    {"TriggerNumber", [](Json* j) { (*j)["trigger"] = 3; }, "trigger: not a string"},
    {"TriggerUnknown", [](Json* j) { (*j)["trigger"] = "reboot"; }, "trigger: not one of"},
    {"NvdimmSyncMissing", [](Json* j) { j->erase("nvdimm_sync"); }, "nvdimm_sync: missing"},
    {"NvdimmSyncUnknown", [](Json* j) { (*j)["nvdimm_sync"] = "maybe"; },
     "nvdimm_sync: not one of"},
    {"NvdimmSyncErrorMissing", [](Json* j) { (*j)["nvdimm_sync"] = "failed"; },
     "nvdimm_sync_error: missing"},
    {"PersistenceUnknown", [](Json* j) { (*j)["persistence"] = "nvram"; }, "persistence"},
    {"PolicyMissing", [](Json* j) { j->erase("policy"); }, "policy: missing"},
    {"PolicyTextNull", [](Json* j) { (*j)["policy_text"] = nullptr; }, "policy_text"},
    {"SeedNegative", [](Json* j) { (*j)["seed"] = -1; }, "seed: not a non-negative integer"},
    {"SeedFraction", [](Json* j) { (*j)["seed"] = 1.5; }, "seed"},
    {"PString", [](Json* j) { (*j)["p"] = "0.5"; }, "p: not a number"},
    {"NvdimmsObject", [](Json* j) { (*j)["nvdimms"] = Json::object(); }, "nvdimms: not an array"},
    {"NvdimmNotObject", [](Json* j) { (*j)["nvdimms"][0] = 1; }, "nvdimms[0]: not an object"},
    {"NvdimmGpaWithoutPrefix", [](Json* j) { (*j)["nvdimms"][0]["gpa"] = "100000000"; },
     "nvdimms[0].gpa: not a hex string"},
    {"NvdimmSizeMissing", [](Json* j) { (*j)["nvdimms"][0].erase("size"); },
     "nvdimms[0].size: missing"},
    {"NvdimmPathNumber", [](Json* j) { (*j)["nvdimms"][0]["path"] = 5; }, "nvdimms[0].path"},
    {"LostLinesMissing", [](Json* j) { j->erase("lost_lines"); }, "lost_lines: missing"},
    {"LostLinesString", [](Json* j) { (*j)["lost_lines"] = "none"; }, "lost_lines: not an array"},
    {"LostLineNotObject", [](Json* j) { (*j)["lost_lines"][1] = Json::array(); },
     "lost_lines[1]: not an object"},
    {"LostLineNvdimmHex", [](Json* j) { (*j)["lost_lines"][0]["nvdimm"] = "0x0"; },
     "lost_lines[0].nvdimm"},
    {"LostLineGpaMissing", [](Json* j) { (*j)["lost_lines"][1].erase("gpa"); },
     "lost_lines[1].gpa: missing"},
    {"LostLineGpaNumber", [](Json* j) { (*j)["lost_lines"][1]["gpa"] = 4096; },
     "lost_lines[1].gpa: not a hex string"},
    {"LostLineOffsetNoDigits", [](Json* j) { (*j)["lost_lines"][0]["offset"] = "0x"; },
     "lost_lines[0].offset: not a hex string"},
    {"LostLineOffsetBadDigit", [](Json* j) { (*j)["lost_lines"][0]["offset"] = "0x20g040"; },
     "lost_lines[0].offset: not a hex string"},
    {"LostLineOffsetTooLong",
     [](Json* j) { (*j)["lost_lines"][0]["offset"] = "0x10000000000000000"; },
     "lost_lines[0].offset: not a hex string"},
    {"LostLineOffsetUpperX", [](Json* j) { (*j)["lost_lines"][0]["offset"] = "0X40"; },
     "lost_lines[0].offset: not a hex string"},
    {"LostLineOffsetSpace", [](Json* j) { (*j)["lost_lines"][0]["offset"] = " 0x40"; },
     "lost_lines[0].offset: not a hex string"},
    {"LostLineStateUnknown", [](Json* j) { (*j)["lost_lines"][0]["state"] = "gone"; },
     "lost_lines[0].state: not one of dirty, flush-pending, wc-buffer"},
    {"LostLinePcNegative", [](Json* j) { (*j)["lost_lines"][1]["pc"] = "-0x1"; },
     "lost_lines[1].pc: not a hex string"},
    {"LostLinePcNull", [](Json* j) { (*j)["lost_lines"][1]["pc"] = nullptr; },
     "lost_lines[1].pc: not a hex string"},
    {"LostLineCr3Number", [](Json* j) { (*j)["lost_lines"][1]["cr3"] = 5; },
     "lost_lines[1].cr3: not a hex string"},
    {"ProcessNotObject", [](Json* j) { (*j)["lost_lines"][1]["process"] = "nvlab-litmus"; },
     "lost_lines[1].process: not an object"},
    {"ProcessPidMissing", [](Json* j) { (*j)["lost_lines"][1]["process"].erase("pid"); },
     "lost_lines[1].process.pid: missing"},
    {"ProcessPidFraction", [](Json* j) { (*j)["lost_lines"][1]["process"]["pid"] = 1.5; },
     "lost_lines[1].process.pid: not an integer"},
    {"ProcessPidTooLarge",
     [](Json* j) { (*j)["lost_lines"][1]["process"]["pid"] = uint64_t{1} << 32; },
     "lost_lines[1].process.pid: out of range"},
    {"ProcessTgidTooSmall",
     [](Json* j) { (*j)["lost_lines"][1]["process"]["tgid"] = int64_t{INT32_MIN} - 1; },
     "lost_lines[1].process.tgid: out of range"},
    {"ProcessTgidString", [](Json* j) { (*j)["lost_lines"][1]["process"]["tgid"] = "123"; },
     "lost_lines[1].process.tgid"},
    {"ProcessCommMissing", [](Json* j) { (*j)["lost_lines"][1]["process"].erase("comm"); },
     "lost_lines[1].process.comm: missing"},
    {"ProcessCommNumber", [](Json* j) { (*j)["lost_lines"][1]["process"]["comm"] = 7; },
     "lost_lines[1].process.comm: not a string"},
    {"ProcessCommBeyondLatin1",
     [](Json* j) { (*j)["lost_lines"][1]["process"]["comm"] = "snow\u2603man"; },
     "lost_lines[1].process.comm: not a byte string"},
    {"ProcessCommTooLong",
     [](Json* j) { (*j)["lost_lines"][1]["process"]["comm"] = std::string(65, 'c'); },
     "lost_lines[1].process.comm: longer than 64 bytes"},
    {"ListedMissing", [](Json* j) { j->erase("lost_lines_listed"); }, "lost_lines_listed: missing"},
    {"ListedDisagrees", [](Json* j) { (*j)["lost_lines_listed"] = 3; },
     "lost_lines_listed: 3 but lost_lines has 2 entries"},
    {"TotalsMissing", [](Json* j) { j->erase("totals"); }, "totals: missing"},
    {"TotalsArray", [](Json* j) { (*j)["totals"] = Json::array(); }, "totals: not an object"},
    {"TotalsFencesMissing", [](Json* j) { (*j)["totals"].erase("fences"); },
     "totals.fences: missing"},
    {"TotalsStoresFloat", [](Json* j) { (*j)["totals"]["stores"] = 0.5; }, "totals.stores"},
    {"TotalsFewerThanListed", [](Json* j) { (*j)["totals"]["lost_lines"] = 1; },
     "totals.lost_lines: fewer than the 2 listed"},
    {"UnresolvedPcsMissing", [](Json* j) { j->erase("unresolved_flush_pcs"); },
     "unresolved_flush_pcs: missing"},
    {"UnresolvedPcBad",
     [](Json* j) {
       (*j)["unresolved_flush_pcs"] = {"0x1", 2};
     },
     "unresolved_flush_pcs[1]: not a hex string"},
    {"KernelCompletionsTotalString",
     [](Json* j) { (*j)["totals"]["user_work_completed_in_kernel"] = "1"; },
     "totals.user_work_completed_in_kernel: not a non-negative integer"},
    {"KernelCompletionsObject",
     [](Json* j) {
       (*j)["totals"]["user_work_completed_in_kernel"] = 1;
       (*j)["kernel_completions"] = Json::object();
     },
     "kernel_completions: not an array"},
    {"KernelCompletionFencePcMissing",
     [](Json* j) {
       (*j)["totals"]["user_work_completed_in_kernel"] = 1;
       (*j)["kernel_completions"] = {{{"user_pc", "0x401000"}}};
     },
     "kernel_completions[0].fence_pc: missing"},
    {"KernelCompletionUserPcBad",
     [](Json* j) {
       (*j)["totals"]["user_work_completed_in_kernel"] = 1;
       (*j)["kernel_completions"] = {{{"fence_pc", "0xffffffff81000000"}, {"user_pc", 4198400}}};
     },
     "kernel_completions[0].user_pc: not a hex string"},
    {"KernelCompletionsMoreThanCounted",
     [](Json* j) {
       (*j)["kernel_completions"] = {{{"fence_pc", "0xffffffff81000000"}, {"user_pc", "0x1"}}};
     },
     "kernel_completions: more entries than totals.user_work_completed_in_kernel counts"},
};

INSTANTIATE_TEST_SUITE_P(Fields, MalformedCutReportTest, testing::ValuesIn(kMalformed),
                         [](const testing::TestParamInfo<Malformed>& info) {
                           return std::string(info.param.name);
                         });

TEST(ParseCutReportTest, WhatIsNotAJsonObjectIsAProtocolError) {
  for (const char* text : {"", "{", "[]", "\"report\"", "42", "null", "{\"format\": }",
                           "{\"a\": 1} trailing", "\xff\xfe"}) {
    CutReport r;
    const Status s = ParseCutReport(text, &r);
    EXPECT_EQ(s.code(), Status::Code::kProtocolError) << text;
    EXPECT_EQ(s.message().rfind("cut report: ", 0), 0u) << s.message();
    EXPECT_FALSE(r.present);
  }
}

TEST(ParseCutReportTest, HugeAndDeeplyNestedReportsAreRefusedWithoutCrashing) {
  CutReport r;
  std::string huge = ValidReport().dump();
  huge.insert(1, "\"padding\": \"" + std::string(kMaxCutReportBytes, 'x') + "\", ");
  Status s = ParseCutReport(huge, &r);
  EXPECT_EQ(s.code(), Status::Code::kProtocolError);
  EXPECT_NE(s.message().find("larger than 8 MiB"), std::string::npos) << s.message();

  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  s = ParseCutReport(deep, &r);
  EXPECT_EQ(s.code(), Status::Code::kProtocolError);
  EXPECT_EQ(s.message(), "cut report: nested deeper than 64 levels");

  Json j = ValidReport();
  Json nested = Json::array();
  for (int i = 0; i < 70; ++i) nested = Json::array({nested});
  j["later"] = nested;
  s = Parse(j, &r);
  EXPECT_EQ(s.message(), "cut report: nested deeper than 64 levels");
  EXPECT_FALSE(r.present);
}

// --- Text
// -----------------------------------------------------------------------------------------

TEST(DescribeLostLineTest, NamesWhatIsKnownAndOnlyThat) {
  LostLine line;
  line.nvdimm = 0;
  line.offset = 0x200040;
  line.gpa = 0x100200040;
  line.state = "dirty";
  EXPECT_EQ(DescribeLostLine(line), "lost nvdimm0+0x200040 (gpa 0x100200040) dirty");
  line.pc = 0x401a2c;
  line.cr3 = 0x1234000;
  EXPECT_EQ(DescribeLostLine(line),
            "lost nvdimm0+0x200040 (gpa 0x100200040) dirty, last store pc 0x401a2c");
  line.process = GuestProcess{123, 123, "nvlab-litmus"};
  EXPECT_EQ(DescribeLostLine(line),
            "lost nvdimm0+0x200040 (gpa 0x100200040) dirty, last store pc 0x401a2c in "
            "nvlab-litmus[123]");
  line.symbol = "litmus_store+0x1c";
  EXPECT_EQ(DescribeLostLine(line),
            "lost nvdimm0+0x200040 (gpa 0x100200040) dirty, last store pc 0x401a2c in "
            "nvlab-litmus[123] (litmus_store+0x1c)");
  line.process->pid = 125;
  line.symbol.clear();
  line.nvdimm = 2;
  line.state = "wc-buffer";
  EXPECT_EQ(DescribeLostLine(line),
            "lost nvdimm2+0x200040 (gpa 0x100200040) wc-buffer, last store pc 0x401a2c in "
            "nvlab-litmus[123 thread 125]");
}

TEST(DescribeLostLineTest, GuestProcessNameIsEscaped) {
  LostLine line;
  line.state = "flush-pending";
  line.pc = 0x401000;
  line.process = GuestProcess{7, 7, std::string("\x1b]0;pwned\x07\\\n\xff\0z", 15)};
  EXPECT_EQ(DescribeLostLine(line),
            "lost nvdimm0+0x0 (gpa 0x0) flush-pending, last store pc 0x401000 in "
            "\\x1b]0;pwned\\x07\\x5c\\x0a\\xff\\x00z[7]");
}

TEST(EscapeUntrustedTest, PrintableAsciiPassesEverythingElseIsHex) {
  EXPECT_EQ(EscapeUntrusted("plain text 123 ~!"), "plain text 123 ~!");
  EXPECT_EQ(EscapeUntrusted(std::string("\0\t\x7f\x80\\", 5)), "\\x00\\x09\\x7f\\x80\\x5c");
}

CutReport ReportWithLines(size_t listed, uint64_t total) {
  CutReport r;
  r.present = true;
  r.trigger = "guest";
  r.lost_lines = total;
  for (size_t i = 0; i < listed; ++i) {
    LostLine line;
    line.offset = 0x40 * i;
    line.gpa = 0x100000000 + 0x40 * i;
    line.state = "dirty";
    r.lines.push_back(line);
  }
  return r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  EXPECT_EQ(start, text.size()) << "the text ends in a newline";
  return lines;
}

TEST(CutSummaryTest, ListsAtMostTwentyLinesThenHowManyMore) {
  const auto lines = Lines(CutSummary(ReportWithLines(25, 25), "   "));
  ASSERT_EQ(lines.size(), 22u);
  EXPECT_EQ(lines[0], "nvlab:   cut: trigger guest, 25 NVDIMM lines lost");
  EXPECT_EQ(lines[1], "nvlab:     lost nvdimm0+0x0 (gpa 0x100000000) dirty");
  EXPECT_EQ(lines[20], "nvlab:     lost nvdimm0+0x4c0 (gpa 0x1000004c0) dirty");
  EXPECT_EQ(lines[21], "nvlab:     ... and 5 more (--json lists up to 1000)");
}

TEST(CutSummaryTest, MoreCountsTheLinesTheReportDidNotList) {
  const auto lines = Lines(CutSummary(ReportWithLines(1000, 1500), "   "));
  ASSERT_EQ(lines.size(), 22u);
  EXPECT_EQ(lines[21], "nvlab:     ... and 1480 more (--json lists up to 1000)");
}

TEST(CutSummaryTest, TwentyLinesOrFewerAreAllListed) {
  EXPECT_EQ(Lines(CutSummary(ReportWithLines(20, 20), "   ")).size(), 21u);
  EXPECT_EQ(CutSummary(ReportWithLines(0, 0), "   "),
            "nvlab:   cut: trigger guest, 0 NVDIMM lines lost\n");
  EXPECT_EQ(CutSummary(CutReport(), "   "), "");
}

TEST(CutSummaryTest, UnresolvedFlushesGetALine) {
  CutReport r = ReportWithLines(1, 1);
  r.totals.unresolved_flushes = 3;
  r.unresolved_flush_pcs = {0x401000, 0x401010};
  const auto lines = Lines(CutSummary(r, " "));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2],
            "nvlab:   3 flushes had no address the model could translate (pc 0x401000, 0x401010): "
            "the NVDIMMs may hold less than the program made durable");
}

TEST(CutSummaryTest, KernelCompletionsGetALine) {
  CutReport r = ReportWithLines(1, 1);
  r.totals.user_work_completed_in_kernel = 2;
  r.kernel_completions = {{0xffffffff81c0a3b5ULL, 0x4019f0}, {0xffffffff81000000ULL, 0x401000}};
  const auto lines = Lines(CutSummary(r, " "));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2],
            "nvlab:   2 times the guest kernel (an interrupt or system call) completed flushes or "
            "NT stores a program had left unfenced (0x4019f0 by 0xffffffff81c0a3b5, 0x401000 by "
            "0xffffffff81000000): as on hardware, what they wrote is durable without the "
            "program's own fence");
  r.totals.user_work_completed_in_kernel = 0;
  EXPECT_EQ(Lines(CutSummary(r, " ")).size(), 2u);
}

TEST(PowerCycleSummaryTest, KeepsItsLinesAndAddsTheLostLinesAfterTheCut) {
  PowerCycleResult result;
  result.machine = "default";
  result.persistence = "adr";
  result.model = true;
  result.on_cut = "lose";
  result.cut = ReportWithLines(1, 3);
  result.cut.lines[0].pc = 0x401a2c;
  result.cut.lines[0].process = GuestProcess{123, 123, "nvlab-litmus"};
  result.cut.lines[0].symbol = "litmus_store+0x1c";
  const auto lines = Lines(PowerCycleSummary(result));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "nvlab: power-cycle on default (adr, model on, on-cut lose)");
  EXPECT_EQ(lines[1].rfind("nvlab:   before: exit 0", 0), 0u);
  EXPECT_EQ(lines[2], "nvlab:   cut: trigger guest, 3 NVDIMM lines lost");
  EXPECT_EQ(lines[3],
            "nvlab:     lost nvdimm0+0x0 (gpa 0x100000000) dirty, last store pc 0x401a2c in "
            "nvlab-litmus[123] (litmus_store+0x1c)");
  EXPECT_EQ(lines[4], "nvlab:     ... and 2 more (--json lists up to 1000)");
  EXPECT_EQ(lines[5].rfind("nvlab:   after: exit 0", 0), 0u);
}

TEST(CutReportJsonTest, AddsTheSymbolsTheHostFound) {
  CutReport r;
  ASSERT_TRUE(Parse(ValidReport(), &r).ok());
  r.lines[1].symbol = "litmus_store+0x1c";
  const Json j = CutReportJson(r);
  Json expected = ValidReport();
  expected["lost_lines"][1]["symbol"] = "litmus_store+0x1c";
  EXPECT_EQ(j, expected);
  EXPECT_TRUE(CutReportJson(CutReport()).is_null());

  PowerCycleResult result;
  result.cut = r;
  EXPECT_EQ(PowerCycleJson(result)["cut"]["report"], expected);
}

}  // namespace
}  // namespace nvlab
