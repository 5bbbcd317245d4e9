// campaign_lab_test.cc -- `nvlab campaign` end to end: the staged nvlab runs a small campaign
// in real guests under TCG, two at a time, and the reports are checked; the same campaign run
// as two shards (at once) and merged must give the same result, case by case. Also: an
// interrupted campaign, a lab that cannot run, a bad campaign file.
//
// The guest image comes from the nvlab.image fixture (NVLAB_HOME in the build tree).

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "file_text.h"
#include "nvlab/subprocess.h"
#include "nvlab_process.h"
#include "xml_check.h"

namespace {

namespace fs = std::filesystem;
using nvlab::Deadline;
using nvlab::Status;
using nvlab::Subprocess;
using nvlab::SubprocessOptions;
using nvlab::testing::Describe;
using nvlab::testing::FileText;
using nvlab::testing::NvlabResult;
using nvlab::testing::RunNvlab;

// The campaign: 4 cases, one of them failing on purpose.
//   0 records/default/adr/lose   1 records/default/eadr/lose   (shards 1, 2)
//   2 script/default/adr/lose    3 fails-on-purpose/default/adr/lose   (shards 1, 2)
constexpr char kCampaign[] = R"campaign(# the end-to-end campaign of tests/campaign
name = e2e
share = programs
timeout = 300

[test]
# Flushed and drained records survive the program's own power cut on both platforms.
name = records
before = nvlab-records write "$NVLAB_PMEM" --pattern flush-drain --count 4 --cut
after = test "$(nvlab-records check "$NVLAB_PMEM" --pattern flush-drain --count 4 | grep -c survived=yes)" = 4
persistence = adr, eadr

[test]
# A program from the share folder, with output no report may be broken by.
name = script
before = sh /host/step.sh before
after = sh /host/step.sh after
expect-before = 0

[test]
name = fails-on-purpose
before = true
after = exit 3
)campaign";

constexpr char kStep[] =
    "#!/bin/sh\n"
    "printf 'step %s on %s\\n' \"$1\" \"$NVLAB_PMEM\"\n"
    "printf 'hostile \\001\\033[2J \\377\\376 ]]> <x>&amp;\\n' >&2\n"
    "exit 0\n";

class CampaignLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = nvlab::testing::MakeTempDir();
    fs::create_directories(dir_ / "programs");
    std::ofstream(dir_ / "programs" / "step.sh") << kStep;
    std::ofstream(dir_ / "e2e.campaign") << kCampaign;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  nlohmann::json ReadJson(const std::string& name) {
    const std::string text = FileText(dir_ / name);
    auto j = nlohmann::json::parse(text, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << name << ":\n" << text;
    return j;
  }

  // StatusById maps each case id of a report to its status.
  std::map<std::string, std::string> StatusById(const nlohmann::json& report) {
    std::map<std::string, std::string> out;
    for (const auto& c : report["cases"]) out[c["id"]] = c["status"];
    return out;
  }

  std::vector<nvlab::testing::XmlElement> ParsedXml(const std::string& name) {
    std::vector<nvlab::testing::XmlElement> elements;
    std::string error;
    EXPECT_TRUE(nvlab::testing::ParseXml(FileText(dir_ / name), &elements, &error)) << error;
    return elements;
  }

  // StartNvlab starts nvlab with its output in dir_/<log>.out and .err.
  void StartNvlab(const std::vector<std::string>& args, const std::string& log, Subprocess* p,
                  const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {NVLAB_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    SubprocessOptions options;
    options.env_overrides = env;
    options.working_dir = dir_;
    options.stdout_to = SubprocessOptions::Stream::kFile;
    options.stdout_path = dir_ / (log + ".out");
    options.stderr_to = SubprocessOptions::Stream::kFile;
    options.stderr_path = dir_ / (log + ".err");
    ASSERT_TRUE(Subprocess::Start(argv, options, p).ok());
  }

  int WaitNvlab(Subprocess* p, const std::string& log) {
    const Status waited = p->Wait(Deadline::In(std::chrono::minutes(12)));
    EXPECT_TRUE(waited.ok()) << waited.ToString();
    EXPECT_TRUE(p->exited()) << p->DescribeExit() << "\n" << FileText(dir_ / (log + ".err"));
    return p->exited() ? p->exit_code() : -1;
  }

  fs::path dir_;
};

TEST_F(CampaignLabTest, RunsJobsReportsAndShardsMergeToTheSameResult) {
  // The whole campaign on one host, two guests at once.
  Subprocess full;
  StartNvlab(
      {"campaign", "e2e.campaign", "--jobs", "2", "--json", "full.json", "--junit", "full.xml"},
      "full", &full);
  ASSERT_EQ(WaitNvlab(&full, "full"), 1) << FileText(dir_ / "full.err");
  const std::string err = FileText(dir_ / "full.err");
  for (int k = 1; k <= 4; ++k) {
    EXPECT_NE(err.find("nvlab campaign: [" + std::to_string(k) + "/4] "), std::string::npos) << err;
  }
  EXPECT_NE(err.find("nvlab campaign: [4/4] "), std::string::npos) << err;
  EXPECT_NE(err.find("fail fails-on-purpose/default/adr/lose ("), std::string::npos) << err;
  EXPECT_NE(err.find("nvlab campaign: 3 passed, 1 failed, 0 errors, 0 not run in "),
            std::string::npos)
      << err;
  EXPECT_EQ(FileText(dir_ / "full.out"), "") << "guest output goes to the reports only";

  const auto report = ReadJson("full.json");
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["format"], "nvlab-campaign-report");
  EXPECT_EQ(report["campaign"], "e2e");
  EXPECT_EQ(report["cases_total"], 4);
  EXPECT_EQ(report["shards"].size(), 1u);
  EXPECT_EQ(report["shards"][0]["of"], 1);
  const auto& cases = report["cases"];
  ASSERT_EQ(cases.size(), 4u) << report.dump(2);
  EXPECT_EQ(cases[0]["id"], "records/default/adr/lose");
  EXPECT_EQ(cases[1]["id"], "records/default/eadr/lose");
  EXPECT_EQ(cases[2]["id"], "script/default/adr/lose");
  EXPECT_EQ(cases[3]["id"], "fails-on-purpose/default/adr/lose");
  for (int k = 0; k < 3; ++k) EXPECT_EQ(cases[k]["status"], "pass") << cases[k].dump(2);
  // nvlab-records --cut cut the power itself: no exit status; the model reported the cut.
  EXPECT_TRUE(cases[0]["before_exit"].is_null()) << cases[0].dump(2);
  EXPECT_EQ(cases[0]["after_exit"], 0);
  EXPECT_TRUE(cases[0]["lost_lines"].is_number_unsigned()) << cases[0].dump(2);
  EXPECT_EQ(cases[1]["persistence"], "eadr");
  EXPECT_EQ(cases[2]["before_exit"], 0);
  EXPECT_EQ(cases[2]["expected_before"], 0);
  EXPECT_EQ(cases[2]["stdout_tail"], "step before on /dev/dax0.0\nstep after on /dev/dax0.0\n");
  const std::string hostile = cases[2]["stderr_tail"];
  EXPECT_NE(hostile.find("hostile \x01\x1b[2J \xef\xbf\xbd\xef\xbf\xbd ]]> <x>&amp;"),
            std::string::npos)
      << hostile;
  EXPECT_EQ(cases[3]["status"], "fail");
  EXPECT_EQ(cases[3]["after_exit"], 3);
  EXPECT_EQ(cases[3]["message"], "after exited 3, expected exit 0");
  EXPECT_EQ(report["summary"]["passed"], 3);
  EXPECT_EQ(report["summary"]["failed"], 1);

  const auto xml = ParsedXml("full.xml");
  size_t testcases = 0;
  size_t failures = 0;
  for (const auto& e : xml) {
    testcases += e.name == "testcase" ? 1 : 0;
    failures += e.name == "failure" ? 1 : 0;
  }
  EXPECT_EQ(testcases, 4u);
  EXPECT_EQ(failures, 1u);

  // The same campaign as two shards, run at once (as two hosts would, named by --host: they
  // share this machine's host name), then merged.
  Subprocess one;
  Subprocess two;
  StartNvlab({"campaign", "e2e.campaign", "--shard", "1/2", "--host", "lab-a", "--json", "s1.json"},
             "s1", &one);
  StartNvlab({"campaign", "e2e.campaign", "--shard", "2/2", "--host", "lab-b", "--json", "s2.json"},
             "s2", &two);
  EXPECT_EQ(WaitNvlab(&one, "s1"), 0) << FileText(dir_ / "s1.err");  // records adr, script
  EXPECT_EQ(WaitNvlab(&two, "s2"), 1) << FileText(dir_ / "s2.err");  // records eadr, the failure
  const auto s1 = ReadJson("s1.json");
  EXPECT_EQ(s1["cases"].size(), 2u);
  EXPECT_EQ(s1["campaign_sha256"], report["campaign_sha256"]);
  EXPECT_EQ(s1["shards"][0]["host"], "lab-a");
  for (const auto& c : s1["cases"]) {
    EXPECT_EQ(c["host"], "lab-a") << c.dump(2);
    EXPECT_EQ(c["ran_on"], nlohmann::json::array({"lab-a"})) << c.dump(2);
  }

  NvlabResult merge = RunNvlab(
      {"campaign", "merge", (dir_ / "s2.json").string(), (dir_ / "s1.json").string(), "--json",
       (dir_ / "merged.json").string(), "--junit", (dir_ / "merged.xml").string()});
  EXPECT_EQ(merge.exit_status, 1) << Describe(merge);
  EXPECT_NE(merge.err.find("nvlab campaign: 3 passed, 1 failed, 0 errors, 0 not run in "),
            std::string::npos)
      << Describe(merge);
  const auto merged = ReadJson("merged.json");
  EXPECT_EQ(StatusById(merged), StatusById(report));
  ASSERT_EQ(merged["cases"].size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(merged["cases"][k]["id"], report["cases"][k]["id"]) << "expansion order";
  }
  EXPECT_EQ(merged["shards"].size(), 2u);
  EXPECT_EQ(merged["cases"][0]["host"], "lab-a");
  EXPECT_EQ(merged["cases"][1]["host"], "lab-b");
  size_t hosts = 0;
  for (const auto& e : ParsedXml("merged.xml")) {
    if (e.name == "property" && e.attributes.at("name") == "host") {
      EXPECT_TRUE(e.attributes.at("value") == "lab-a" || e.attributes.at("value") == "lab-b");
      ++hosts;
    }
  }
  EXPECT_EQ(hosts, 4u);

  // A shard missing: an error naming it, unless allowed.
  merge = RunNvlab({"campaign", "merge", (dir_ / "s1.json").string()});
  EXPECT_EQ(merge.exit_status, 2) << Describe(merge);
  EXPECT_NE(merge.err.find("shard 2 of 2 missing"), std::string::npos) << Describe(merge);
  merge = RunNvlab({"campaign", "merge", "--allow-missing", (dir_ / "s1.json").string()});
  EXPECT_EQ(merge.exit_status, 1) << Describe(merge);
  EXPECT_NE(merge.err.find("2 passed, 0 failed, 0 errors, 0 not run, 2 missing in "),
            std::string::npos)
      << Describe(merge);
}

TEST_F(CampaignLabTest, AnInterruptedCampaignWritesItsReportAndExits130) {
  std::ofstream(dir_ / "slow.campaign") << "name = slow\nshare = programs\n"
                                           "[test]\nname = a\nbefore = touch /host/started; "
                                           "sleep 1000\nafter = true\n"
                                           "[test]\nname = b\nbefore = true\nafter = true\n";
  Subprocess nvlab;
  StartNvlab({"campaign", "slow.campaign", "--json", "slow.json", "--junit", "slow.xml"}, "slow",
             &nvlab);
  for (int i = 0; i < 3000 && !fs::exists(dir_ / "programs" / "started"); ++i) usleep(100000);
  ASSERT_TRUE(fs::exists(dir_ / "programs" / "started")) << FileText(dir_ / "slow.err");
  ASSERT_TRUE(nvlab.Kill(SIGINT).ok());
  EXPECT_EQ(WaitNvlab(&nvlab, "slow"), 130) << FileText(dir_ / "slow.err");
  const std::string err = FileText(dir_ / "slow.err");
  EXPECT_NE(err.find("nvlab campaign: 0 passed, 0 failed, 0 errors, 2 not run in "),
            std::string::npos)
      << err;
  const auto report = ReadJson("slow.json");
  ASSERT_EQ(report["cases"].size(), 2u) << report.dump(2);
  EXPECT_EQ(report["cases"][0]["status"], "not-run");
  EXPECT_TRUE(
      report["cases"][0]["message"].get<std::string>().starts_with("not run: interrupted ("))
      << report.dump(2);
  EXPECT_EQ(report["cases"][1]["status"], "not-run");
  EXPECT_EQ(report["cases"][1]["message"],
            "not run: the campaign was interrupted before it started");
  EXPECT_FALSE(ParsedXml("slow.xml").empty());
}

TEST_F(CampaignLabTest, ALabThatCannotRunIs125WithEveryCaseNotRun) {
  const fs::path bin = dir_ / "bin";  // a PATH without QEMU
  fs::create_directories(bin);
  Subprocess nvlab;
  StartNvlab({"campaign", "e2e.campaign", "--shard", "2/2", "--json", "r.json"}, "r", &nvlab,
             {"PATH=" + bin.string()});
  EXPECT_EQ(WaitNvlab(&nvlab, "r"), 125);
  const std::string err = FileText(dir_ / "r.err");
  EXPECT_NE(err.find("nvlab: the lab cannot run: "), std::string::npos) << err;
  EXPECT_NE(err.find("qemu-system-x86_64"), std::string::npos) << err;
  const auto report = ReadJson("r.json");
  ASSERT_EQ(report["cases"].size(), 2u);
  for (const auto& c : report["cases"]) {
    EXPECT_EQ(c["status"], "not-run");
    EXPECT_TRUE(c["message"].get<std::string>().starts_with("not run: the lab cannot run: "));
  }
}

TEST_F(CampaignLabTest, ABadCampaignFileOrOutputPathIsAUsageError) {
  std::ofstream(dir_ / "bad.campaign") << "name = bad\n[test]\nname = t\nbefore = true\n";
  NvlabResult r = RunNvlab({"campaign", (dir_ / "bad.campaign").string()});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find((dir_ / "bad.campaign").string() + ":2: after: missing in this [test]"),
            std::string::npos)
      << Describe(r);
  r = RunNvlab({"campaign", (dir_ / "none.campaign").string()});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("cannot read campaign file"), std::string::npos) << Describe(r);
  r = RunNvlab(
      {"campaign", (dir_ / "e2e.campaign").string(), "--json", (dir_ / "no" / "r.json").string()});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("--json: no folder"), std::string::npos) << Describe(r);
  std::ofstream(dir_ / "corrupt.json") << "{\"format\":";
  r = RunNvlab({"campaign", "merge", (dir_ / "corrupt.json").string()});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find((dir_ / "corrupt.json").string() + ": not JSON: "), std::string::npos)
      << Describe(r);
}

}  // namespace
