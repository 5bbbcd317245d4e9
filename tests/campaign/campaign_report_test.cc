// campaign_report_test.cc -- campaign reports: JSON round trip with hostile output, the strict
// reader's errors, merging shards (re-runs, missing shards, mismatches), the summary line.

#include "nvlab/campaign/campaign_report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nvlab::Status;
using nvlab::campaign::CampaignReport;
using nvlab::campaign::CaseResult;
using nvlab::campaign::CaseStatus;
using nvlab::campaign::ShardRun;

const std::string kSha(64, 'a');

// Case makes case `index` of a campaign of `of` shards, with status s, run on host.
CaseResult Case(size_t index, int of, CaseStatus s, const std::string& host) {
  CaseResult c;
  c.index = index;
  c.test = "t" + std::to_string(index / 2);
  c.machine = "default";
  c.persistence = index % 2 == 0 ? "adr" : "eadr";
  c.on_cut = "lose";
  c.id = c.test + "/" + c.machine + "/" + c.persistence + "/" + c.on_cut;
  c.shard = static_cast<int>(index % static_cast<size_t>(of)) + 1;
  c.host = host;
  c.status = s;
  if (s != CaseStatus::kNotRun) {
    c.ran_on = {host};
    c.before_exit = 0;
    c.after_exit = s == CaseStatus::kPass ? 0 : 1;
    c.lost_lines = 3;
    c.seconds = 1.5;
  }
  c.message = s == CaseStatus::kPass ? "" : "something";
  return c;
}

// Shard makes the report of shard `shard` of `of` of a campaign of `total` cases, every case
// with status s.
CampaignReport Shard(int shard, int of, size_t total, CaseStatus s, const std::string& host) {
  CampaignReport r;
  r.campaign = "camp";
  r.campaign_sha256 = kSha;
  r.cases_total = total;
  r.shards.push_back({shard, of, host, "2025-01-02T03:04:05Z", 10.0 * shard});
  for (size_t k = 0; k < total; ++k) {
    if (static_cast<int>(k % static_cast<size_t>(of)) + 1 == shard) {
      r.cases.push_back(Case(k, of, s, host));
    }
  }
  return r;
}

Status Parse(const std::string& text, CampaignReport* out) {
  return nvlab::campaign::ParseReport(text, "r.json", out);
}

void ExpectSameCase(const CaseResult& a, const CaseResult& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.machine, b.machine);
  EXPECT_EQ(a.persistence, b.persistence);
  EXPECT_EQ(a.on_cut, b.on_cut);
  EXPECT_EQ(a.shard, b.shard);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.ran_on, b.ran_on);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.expected, b.expected);
  EXPECT_EQ(a.expected_before, b.expected_before);
  EXPECT_EQ(a.before_exit, b.before_exit);
  EXPECT_EQ(a.after_exit, b.after_exit);
  EXPECT_EQ(a.lost_lines, b.lost_lines);
  EXPECT_DOUBLE_EQ(a.seconds, b.seconds);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.stdout_tail, b.stdout_tail);
  EXPECT_EQ(a.stderr_tail, b.stderr_tail);
}

TEST(CampaignReportTest, RoundTripKeepsEveryField) {
  CampaignReport r = Shard(1, 2, 6, CaseStatus::kPass, "h1");
  r.cases[0].expected = 3;
  r.cases[0].expected_before = 255;
  r.cases[0].after_exit = 3;
  r.cases[1].status = CaseStatus::kError;
  r.cases[1].before_exit.reset();
  r.cases[1].after_exit.reset();
  r.cases[1].lost_lines = UINT64_MAX;
  r.cases[1].message = "lab failed:\n\tconsole \"tail\" \\ here";
  r.cases[2].status = CaseStatus::kNotRun;
  r.cases[2].ran_on.clear();
  const char kHostile[] = "bin\0ary\x01\x1b[31m\u00e9\U0001F600]]><&>";
  r.cases[0].stdout_tail = std::string(kHostile, sizeof kHostile - 1);
  r.cases[0].stderr_tail = "line1\r\nline2";
  const std::string json = nvlab::campaign::ReportJson(r);
  CampaignReport back;
  const Status s = Parse(json, &back);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << json;
  EXPECT_EQ(back.campaign, r.campaign);
  EXPECT_EQ(back.campaign_sha256, r.campaign_sha256);
  EXPECT_EQ(back.cases_total, r.cases_total);
  ASSERT_EQ(back.shards.size(), 1u);
  EXPECT_EQ(back.shards[0].shard, 1);
  EXPECT_EQ(back.shards[0].of, 2);
  EXPECT_EQ(back.shards[0].host, "h1");
  EXPECT_EQ(back.shards[0].started, "2025-01-02T03:04:05Z");
  EXPECT_DOUBLE_EQ(back.shards[0].seconds, 10.0);
  ASSERT_EQ(back.cases.size(), r.cases.size());
  for (size_t i = 0; i < r.cases.size(); ++i) ExpectSameCase(back.cases[i], r.cases[i]);
  // The serialized form is the documented one.
  const auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j["format"], "nvlab-campaign-report");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["summary"]["passed"], 1);
  EXPECT_EQ(j["summary"]["errors"], 1);
  EXPECT_EQ(j["summary"]["not_run"], 1);
  EXPECT_EQ(j["summary"]["missing"], 0);
  EXPECT_TRUE(j["cases"][1]["after_exit"].is_null());
  EXPECT_EQ(j["cases"][0]["status"], "pass");
  EXPECT_EQ(j["cases"][2]["status"], "not-run");
}

TEST(CampaignReportTest, InvalidUtf8IsReplacedNotThrown) {
  CampaignReport r = Shard(1, 1, 1, CaseStatus::kFail, "h");
  r.cases[0].stdout_tail = "ok \xff\xfe bad \xc3\x28 cut \xe2\x82";
  r.cases[0].message = "\xed\xa0\x80 surrogate";
  std::string json;
  ASSERT_NO_THROW(json = nvlab::campaign::ReportJson(r));
  CampaignReport back;
  ASSERT_TRUE(Parse(json, &back).ok()) << json;
  EXPECT_EQ(back.cases[0].stdout_tail,
            "ok \xef\xbf\xbd\xef\xbf\xbd bad \xef\xbf\xbd( cut \xef\xbf\xbd");
  EXPECT_TRUE(back.cases[0].message.ends_with(" surrogate"));
}

TEST(CampaignReportTest, SecondsAreRoundedToMilliseconds) {
  CampaignReport r = Shard(1, 1, 1, CaseStatus::kPass, "h");
  r.cases[0].seconds = 12.3456789;
  const auto j = nlohmann::json::parse(nvlab::campaign::ReportJson(r));
  EXPECT_DOUBLE_EQ(j["cases"][0]["seconds"].get<double>(), 12.346);
}

// Mutated is a valid report's JSON with one change applied.
std::string Mutated(const std::function<void(nlohmann::json&)>& change) {
  CampaignReport r = Shard(1, 2, 4, CaseStatus::kPass, "h");
  auto j = nlohmann::json::parse(nvlab::campaign::ReportJson(r));
  change(j);
  return j.dump();
}

TEST(CampaignReportTest, TheReaderIsStrict) {
  using J = nlohmann::json;
  struct Bad {
    std::function<void(J&)> change;
    const char* error;
  };
  const Bad bad[] = {
      {[](J& j) { j = J::array(); }, "r.json: top level: not a JSON object"},
      {[](J& j) { j.erase("format"); }, "r.json: top level: missing \"format\""},
      {[](J& j) { j["format"] = "other"; }, "r.json: format: 'other' is not nvlab-campaign"},
      {[](J& j) { j["version"] = 2; }, "r.json: version: 2 (this nvlab reads version 1)"},
      {[](J& j) { j["version"] = "1"; }, "r.json: top level: \"version\" is not an integer"},
      {[](J& j) { j["campaign"] = "a/b"; }, "r.json: campaign: not a campaign name"},
      {[](J& j) { j["campaign_sha256"] = "ABC"; }, "r.json: campaign_sha256: not 64 lowercase"},
      {[](J& j) { j["cases_total"] = -1; }, "r.json: top level: \"cases_total\" is not an"},
      {[](J& j) { j["shards"] = J::array(); }, "r.json: shards: empty"},
      {[](J& j) { j["shards"] = J::object(); }, "r.json: top level: \"shards\" is not an array"},
      {[](J& j) { j["shards"][0]["shard"] = 3; }, "r.json: shards[0]: \"shard\" is not an"},
      {[](J& j) { j["shards"][0]["seconds"] = -1; }, "r.json: shards[0]: \"seconds\" is not"},
      {[](J& j) { j["shards"][0].erase("host"); }, "r.json: shards[0]: missing \"host\""},
      {[](J& j) {
         J other = j["shards"][0];
         other["of"] = 3;
         j["shards"].push_back(other);
       },
       "r.json: shards[1]: \"of\" differs"},
      {[](J& j) { j["missing_shards"] = {1}; }, "r.json: missing_shards: lists a shard that ran"},
      {[](J& j) { j["missing_shards"] = {3}; }, "r.json: missing_shards: \"missing_shards\" is"},
      {[](J& j) { j["cases"][0] = 5; }, "r.json: cases[0]: not an object"},
      {[](J& j) { j["cases"][0]["index"] = 4; }, "r.json: cases[0]: \"index\" is not an integer"},
      {[](J& j) { j["cases"][1]["index"] = 0; }, "r.json: cases[1]: \"index\" is not after"},
      {[](J& j) { j["cases"][0]["index"] = 1; }, "r.json: cases[0]: case 1 is not of shard 1"},
      {[](J& j) { j["cases"][0]["shard"] = 2; }, "r.json: cases[0]: case 0 is not of shard 2"},
      {[](J& j) { j["cases"][0]["id"] = "x"; }, "r.json: cases[0]: \"id\" is not test/machine"},
      {[](J& j) { j["cases"][0]["status"] = "ok\x1b"; },
       "r.json: cases[0]: \"status\" is 'ok\\x1b', not pass"},
      {[](J& j) { j["cases"][0]["expected"] = 256; }, "r.json: cases[0]: \"expected\" is not"},
      {[](J& j) { j["cases"][0]["before_exit"] = "0"; }, "r.json: cases[0]: \"before_exit\""},
      {[](J& j) { j["cases"][0]["lost_lines"] = -3; }, "r.json: cases[0]: \"lost_lines\""},
      {[](J& j) { j["cases"][0]["lost_lines"] = 1.5; }, "r.json: cases[0]: \"lost_lines\""},
      {[](J& j) { j["cases"][0]["stdout_tail"] = nullptr; },
       "r.json: cases[0]: \"stdout_tail\" is not a string"},
      {[](J& j) { j["cases"][0]["ran_on"] = {1}; }, "r.json: cases[0]: \"ran_on\" holds"},
      {[](J& j) { j["cases"][0].erase("message"); }, "r.json: cases[0]: missing \"message\""},
      {[](J& j) { j["summary"]["passed"] = 7; }, "r.json: summary: does not agree with the"},
      {[](J& j) { j.erase("summary"); }, "r.json: top level: missing \"summary\""},
  };
  for (const Bad& b : bad) {
    CampaignReport out;
    const Status s = Parse(Mutated(b.change), &out);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << b.error;
    EXPECT_TRUE(s.message().starts_with(b.error))
        << "wanted: " << b.error << "\ngot: " << s.message();
  }
  CampaignReport out;
  EXPECT_TRUE(Parse(Mutated([](J&) {}), &out).ok());
  // A reader ignores fields it does not know (later writers may add some).
  EXPECT_TRUE(Parse(Mutated([](J& j) { j["new_field"] = 1; }), &out).ok());
}

TEST(CampaignReportTest, CorruptJsonIsAnErrorNamingTheFile) {
  const std::string good = nvlab::campaign::ReportJson(Shard(1, 1, 2, CaseStatus::kPass, "h"));
  for (const std::string& text :
       {good.substr(0, good.size() / 2), std::string(""), std::string("\xff\xfe{}"),
        std::string("{\"format\": \"nvlab-campaign-report\", \"format\": }"), good + "x"}) {
    CampaignReport out;
    const Status s = Parse(text, &out);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_TRUE(s.message().starts_with("r.json: not JSON: ")) << s.message();
    for (char c : s.message()) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << s.message();
  }
}

TEST(CampaignReportTest, FilesAreWrittenAtomicallyAndReadBack) {
  char templ[] = "/tmp/nvlab-report-test-XXXXXX";
  ASSERT_NE(mkdtemp(templ), nullptr);
  const fs::path dir = templ;
  const CampaignReport r = Shard(2, 2, 5, CaseStatus::kFail, "h2");
  ASSERT_TRUE(
      nvlab::campaign::WriteReportFile(dir / "r.json", nvlab::campaign::ReportJson(r)).ok());
  CampaignReport back;
  ASSERT_TRUE(nvlab::campaign::ReadReportFile(dir / "r.json", &back).ok());
  EXPECT_EQ(back.cases.size(), 2u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1)
      << "no temporary file left";
  EXPECT_EQ(nvlab::campaign::ReadReportFile(dir / "none.json", &back).code(),
            Status::Code::kNotFound);
  std::ofstream(dir / "bad.json") << "{";
  const Status s = nvlab::campaign::ReadReportFile(dir / "bad.json", &back);
  EXPECT_TRUE(s.message().starts_with((dir / "bad.json").string() + ": not JSON")) << s.message();
  fs::remove_all(dir);
}

Status Merge(const std::vector<CampaignReport>& inputs, bool allow_missing, CampaignReport* out) {
  std::vector<std::string> names;
  for (size_t i = 0; i < inputs.size(); ++i) names.push_back("in" + std::to_string(i) + ".json");
  return nvlab::campaign::MergeReports(inputs, names, allow_missing, out);
}

TEST(CampaignMergeTest, ShardsMergeIntoTheSingleHostReport) {
  CampaignReport a = Shard(1, 3, 8, CaseStatus::kPass, "h1");
  CampaignReport b = Shard(2, 3, 8, CaseStatus::kFail, "h2");
  CampaignReport c = Shard(3, 3, 8, CaseStatus::kPass, "h3");
  CampaignReport merged;
  // Any input order gives the same merged report.
  ASSERT_TRUE(Merge({c, a, b}, false, &merged).ok());
  ASSERT_EQ(merged.cases.size(), 8u);
  for (size_t k = 0; k < 8; ++k) {
    EXPECT_EQ(merged.cases[k].index, k);
    EXPECT_EQ(merged.cases[k].status, k % 3 == 1 ? CaseStatus::kFail : CaseStatus::kPass);
    EXPECT_EQ(merged.cases[k].ran_on, std::vector<std::string>{"h" + std::to_string(k % 3 + 1)});
  }
  ASSERT_EQ(merged.shards.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(merged.shards[i].shard, i + 1);
  EXPECT_TRUE(merged.missing_shards.empty());
  const auto s = merged.Summary();
  EXPECT_EQ(s.passed, 5u);
  EXPECT_EQ(s.failed, 3u);
  EXPECT_FALSE(s.AllPassed());
  // The merged report is itself a report: it reads back and merges again.
  CampaignReport back;
  ASSERT_TRUE(Parse(nvlab::campaign::ReportJson(merged), &back).ok());
  CampaignReport again;
  ASSERT_TRUE(Merge({back}, false, &again).ok());
  EXPECT_EQ(again.cases.size(), 8u);
}

TEST(CampaignMergeTest, AReRunShardKeepsTheFinishedCasesAndEveryHost) {
  CampaignReport one = Shard(1, 2, 4, CaseStatus::kPass, "h1");
  CampaignReport interrupted = Shard(2, 2, 4, CaseStatus::kNotRun, "h2");
  interrupted.cases[0] = Case(1, 2, CaseStatus::kError, "h2");  // case 1 erred on h2
  CampaignReport rerun = Shard(2, 2, 4, CaseStatus::kPass, "h3");
  rerun.cases[0].status = CaseStatus::kNotRun;  // case 1 did not run on h3
  rerun.cases[0].ran_on.clear();
  CampaignReport merged;
  ASSERT_TRUE(Merge({one, interrupted, rerun}, false, &merged).ok());
  ASSERT_EQ(merged.cases.size(), 4u);
  // Case 1: error on h2 (finished) beats not-run on h3 (later).
  EXPECT_EQ(merged.cases[1].status, CaseStatus::kError);
  EXPECT_EQ(merged.cases[1].host, "h2");
  EXPECT_EQ(merged.cases[1].ran_on, std::vector<std::string>{"h2"});
  // Case 3: not-run on h2, pass on h3.
  EXPECT_EQ(merged.cases[3].status, CaseStatus::kPass);
  EXPECT_EQ(merged.cases[3].host, "h3");
  EXPECT_EQ(merged.cases[3].ran_on, std::vector<std::string>{"h3"});
  // Both shard-2 runs are listed, in input order, after shard 1.
  ASSERT_EQ(merged.shards.size(), 3u);
  EXPECT_EQ(merged.shards[1].host, "h2");
  EXPECT_EQ(merged.shards[2].host, "h3");

  // Finished on both: the later input wins, and both hosts are recorded.
  CampaignReport first = Shard(2, 2, 4, CaseStatus::kFail, "h2");
  CampaignReport second = Shard(2, 2, 4, CaseStatus::kPass, "h3");
  ASSERT_TRUE(Merge({one, first, second}, false, &merged).ok());
  EXPECT_EQ(merged.cases[1].status, CaseStatus::kPass);
  EXPECT_EQ(merged.cases[1].ran_on, (std::vector<std::string>{"h2", "h3"}));
  ASSERT_TRUE(Merge({one, second, first}, false, &merged).ok());
  EXPECT_EQ(merged.cases[1].status, CaseStatus::kFail);
  EXPECT_EQ(merged.cases[1].ran_on, (std::vector<std::string>{"h3", "h2"}));
  // The same report given twice changes nothing.
  ASSERT_TRUE(Merge({one, one, second}, false, &merged).ok());
  EXPECT_EQ(merged.cases.size(), 4u);
  EXPECT_EQ(merged.cases[0].ran_on, std::vector<std::string>{"h1"});
}

TEST(CampaignMergeTest, MissingShardsAreNamedOrListed) {
  CampaignReport two = Shard(2, 4, 10, CaseStatus::kPass, "h2");
  CampaignReport merged;
  Status s = Merge({two}, false, &merged);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "shards 1, 3, 4 of 4 missing: no report given holds them (run them, or merge with "
            "--allow-missing)");
  s = Merge(
      {two, Shard(1, 4, 10, CaseStatus::kPass, "h1"), Shard(4, 4, 10, CaseStatus::kPass, "h4")},
      false, &merged);
  EXPECT_EQ(s.message(),
            "shard 3 of 4 missing: no report given holds it (run it, or merge with "
            "--allow-missing)");

  ASSERT_TRUE(Merge({two}, true, &merged).ok());
  EXPECT_EQ(merged.missing_shards, (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(merged.cases.size(), 3u);  // cases 1, 5, 9
  const auto summary = merged.Summary();
  EXPECT_EQ(summary.passed, 3u);
  EXPECT_EQ(summary.missing, 7u);
  EXPECT_FALSE(summary.AllPassed());
  EXPECT_EQ(nvlab::campaign::SummaryLine(summary, 20),
            "3 passed, 0 failed, 0 errors, 0 not run, 7 missing in 20.0 s");
  CampaignReport back;
  ASSERT_TRUE(Parse(nvlab::campaign::ReportJson(merged), &back).ok());
  EXPECT_EQ(back.missing_shards, merged.missing_shards);
  // A later merge with the missing shards completes it.
  ASSERT_TRUE(
      Merge({back, Shard(1, 4, 10, CaseStatus::kPass, "h1"),
             Shard(3, 4, 10, CaseStatus::kPass, "h3"), Shard(4, 4, 10, CaseStatus::kPass, "h4")},
            false, &merged)
          .ok());
  EXPECT_TRUE(merged.Summary().AllPassed());
  EXPECT_EQ(merged.cases.size(), 10u);
}

TEST(CampaignMergeTest, ReportsOfDifferentCampaignsDoNotMerge) {
  const CampaignReport one = Shard(1, 2, 4, CaseStatus::kPass, "h1");
  CampaignReport other = Shard(2, 2, 4, CaseStatus::kPass, "h2");
  CampaignReport merged;
  other.campaign = "other";
  EXPECT_EQ(Merge({one, other}, false, &merged).message(),
            "in1.json: campaign 'other' (in0.json has 'camp')");
  other = Shard(2, 2, 4, CaseStatus::kPass, "h2");
  other.campaign_sha256 = std::string(64, 'b');
  EXPECT_TRUE(Merge({one, other}, false, &merged)
                  .message()
                  .ends_with("): the shards ran different campaign files"));
  EXPECT_EQ(Merge({one, Shard(2, 3, 4, CaseStatus::kPass, "h2")}, false, &merged).message(),
            "in1.json: 3 shards (in0.json has 2)");
  EXPECT_EQ(Merge({one, Shard(2, 2, 5, CaseStatus::kPass, "h2")}, false, &merged).message(),
            "in1.json: cases_total 5 (in0.json has 4)");
  other = Shard(1, 2, 4, CaseStatus::kPass, "h2");
  other.cases[1].test = "zz";
  other.cases[1].id = "zz/default/adr/lose";
  EXPECT_EQ(Merge({one, other, Shard(2, 2, 4, CaseStatus::kPass, "h2")}, false, &merged).message(),
            "in1.json: case 2 is 'zz/default/adr/lose' but 't1/default/adr/lose' in in0.json");
  other = Shard(2, 2, 4, CaseStatus::kPass, "h2");
  other.cases.pop_back();
  EXPECT_EQ(Merge({one, other}, false, &merged).message(),
            "case 3 of shard 2 is in no report, though the shard ran");
  EXPECT_EQ(Merge({}, false, &merged).code(), Status::Code::kInvalidArgument);
}

TEST(CampaignReportTest, SummaryLineAndIsoTime) {
  nvlab::campaign::ReportSummary s;
  s.passed = 20;
  s.failed = 2;
  s.errors = 1;
  s.not_run = 1;
  EXPECT_EQ(nvlab::campaign::SummaryLine(s, 12.34),
            "20 passed, 2 failed, 1 errors, 1 not run in 12.3 s");
  EXPECT_EQ(nvlab::campaign::IsoTimeUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(nvlab::campaign::IsoTimeUtc(1735787045), "2025-01-02T03:04:05Z");
}

TEST(CampaignReportTest, HostNamesArePrintableAsciiWords) {
  using nvlab::campaign::IsHostName;
  const std::vector<std::string> good = {
      "a", "lab-a", "10.0.0.7", "[::1]:22", "loop_2.example:2222", "!~", std::string(64, 'h')};
  for (const std::string& name : good) EXPECT_TRUE(IsHostName(name)) << name;
  const std::vector<std::string> bad = {"",      std::string(65, 'h'),   "lab a", "lab\ta",
                                        "lab\n", std::string("a\0b", 3), "h\x7f", "h\xc3\xa9"};
  for (const std::string& name : bad) EXPECT_FALSE(IsHostName(name)) << name;
}

}  // namespace
