// campaign_cli_test.cc -- the command line of `nvlab campaign` and `nvlab campaign merge`.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_options.h"

namespace {

using nvlab::CommandLineStatus;
using nvlab::ParseCommandLine;
using nvlab::Subcommand;

TEST(CampaignCliTest, CampaignTakesAFileAndItsOptions) {
  auto p = ParseCommandLine({"campaign", "c.campaign"});
  ASSERT_EQ(p.status, CommandLineStatus::kOk) << p.text;
  EXPECT_EQ(p.options.subcommand, Subcommand::kCampaign);
  EXPECT_EQ(p.options.campaign.file, "c.campaign");
  EXPECT_EQ(p.options.campaign.jobs, 1);
  EXPECT_EQ(p.options.campaign.shard, 1);
  EXPECT_EQ(p.options.campaign.shards, 1);
  EXPECT_TRUE(p.options.campaign.json_out.empty());

  p = ParseCommandLine({"campaign", "--jobs", "4", "--shard", "2/3", "c.campaign", "--json",
                        "r.json", "--junit=r.xml"});
  ASSERT_EQ(p.status, CommandLineStatus::kOk) << p.text;
  EXPECT_EQ(p.options.campaign.jobs, 4);
  EXPECT_EQ(p.options.campaign.shard, 2);
  EXPECT_EQ(p.options.campaign.shards, 3);
  EXPECT_EQ(p.options.campaign.json_out, "r.json");
  EXPECT_EQ(p.options.campaign.junit_out, "r.xml");
  EXPECT_FALSE(p.options.json) << "campaign's --json is its own, not the lab flag";

  p = ParseCommandLine({"campaign", "-j", "64", "c.campaign"});
  ASSERT_EQ(p.status, CommandLineStatus::kOk) << p.text;
  EXPECT_EQ(p.options.campaign.jobs, 64);
}

TEST(CampaignCliTest, HostNamesTheRunInTheReports) {
  auto p = ParseCommandLine({"campaign", "c.campaign"});
  ASSERT_EQ(p.status, CommandLineStatus::kOk) << p.text;
  EXPECT_EQ(p.options.campaign.host, "") << "empty: gethostname()";
  // What Ansible's inventory_hostname can be: a name, an address, a name with a port.
  const std::vector<std::string> hosts = {"lab-a", "10.0.0.7", "loop_2.example:2222",
                                          std::string(64, 'h')};
  for (const std::string& host : hosts) {
    p = ParseCommandLine({"campaign", "c.campaign", "--host", host});
    ASSERT_EQ(p.status, CommandLineStatus::kOk) << p.text;
    EXPECT_EQ(p.options.campaign.host, host);
  }
  p = ParseCommandLine({"campaign", "--host=h2", "c.campaign", "--shard", "2/2"});
  ASSERT_EQ(p.status, CommandLineStatus::kOk) << p.text;
  EXPECT_EQ(p.options.campaign.host, "h2");
}

TEST(CampaignCliTest, MergeTakesReports) {
  auto p = ParseCommandLine({"campaign", "merge", "a.json", "b.json", "--json", "m.json",
                             "--allow-missing", "--junit", "m.xml"});
  ASSERT_EQ(p.status, CommandLineStatus::kOk) << p.text;
  EXPECT_EQ(p.options.subcommand, Subcommand::kCampaignMerge);
  EXPECT_EQ(p.options.campaign.merge_inputs, (std::vector<std::string>{"a.json", "b.json"}));
  EXPECT_EQ(p.options.campaign.json_out, "m.json");
  EXPECT_EQ(p.options.campaign.junit_out, "m.xml");
  EXPECT_TRUE(p.options.campaign.allow_missing);
  p = ParseCommandLine({"campaign", "merge", "a.json"});
  ASSERT_EQ(p.status, CommandLineStatus::kOk) << p.text;
  EXPECT_FALSE(p.options.campaign.allow_missing);
}

TEST(CampaignCliTest, UsageErrorsNameTheProblem) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"campaign"}, "nvlab campaign needs a campaign FILE (try nvlab campaign --help)"},
      {{"campaign", "c", "--jobs", "0"}, "--jobs: bad value '0' (expected a number of cases"},
      {{"campaign", "c", "--jobs", "65"}, "--jobs: bad value '65'"},
      {{"campaign", "c", "--shard", "0/2"}, "--shard: bad value '0/2' (expected I/N"},
      {{"campaign", "c", "--shard", "3/2"}, "--shard: bad value '3/2'"},
      {{"campaign", "c", "--json"}, "--json needs a value"},
      {{"campaign", "c", "--json="}, "--json: bad value '' (expected a file name)"},
      {{"campaign", "c", "d"}, "unexpected argument 'd' for nvlab campaign"},
      {{"campaign", "c", "--host"}, "--host needs a value"},
      {{"campaign", "c", "--host="},
       "--host: bad value '' (expected 1 to 64 printable ASCII characters, no spaces)"},
      {{"campaign", "c", "--host", "lab a"}, "--host: bad value 'lab a'"},
      {{"campaign", "c", "--host", "lab\ta"}, "--host: bad value 'lab\ta'"},
      {{"campaign", "c", "--host", "h\xc3\xa9"}, "--host: bad value"},
      {{"campaign", "c", "--host", std::string(65, 'h')}, "--host: bad value"},
      {{"campaign", "c", "--machine", "eadr"}, "--machine: nvlab campaign takes no lab options"},
      {{"--timeout", "5", "campaign", "c"}, "--timeout: nvlab campaign takes no lab options"},
      {{"campaign", "merge"}, "nvlab campaign merge needs the shard reports to merge"},
      {{"campaign", "merge", "a.json", "--jobs", "2"},
       "--jobs is not an option of nvlab campaign merge"},
      {{"campaign", "merge", "a.json", "--shard", "1/2"}, "--shard is not an option"},
      {{"campaign", "merge", "a.json", "--host", "h"},
       "--host is not an option of nvlab campaign merge"},
      {{"campaign", "c", "--", "x"}, "'--' only goes before the command of nvlab run"},
  };
  for (const auto& [args, error] : cases) {
    const auto p = ParseCommandLine(args);
    EXPECT_EQ(p.status, CommandLineStatus::kUsageError) << error;
    EXPECT_TRUE(p.text.starts_with(error)) << "wanted: " << error << "\ngot:    " << p.text;
  }
}

TEST(CampaignCliTest, HelpShowsTheCampaignCommands) {
  auto p = ParseCommandLine({"--help"});
  ASSERT_EQ(p.status, CommandLineStatus::kHelp);
  EXPECT_NE(p.text.find("  campaign "), std::string::npos) << p.text;
  p = ParseCommandLine({"campaign", "--help"});
  ASSERT_EQ(p.status, CommandLineStatus::kHelp);
  EXPECT_TRUE(
      p.text.starts_with("usage: nvlab campaign FILE [--jobs J] [--shard I/N] [--host "
                         "NAME] [--json OUT] [--junit OUT]"))
      << p.text;
  EXPECT_NE(p.text.find("--shard I/N"), std::string::npos);
  EXPECT_NE(p.text.find("--host NAME"), std::string::npos);
  EXPECT_NE(p.text.find("  merge "), std::string::npos);
  EXPECT_EQ(p.text.find("Lab options"), std::string::npos) << "campaign takes none";
  p = ParseCommandLine({"campaign", "merge", "--help"});
  ASSERT_EQ(p.status, CommandLineStatus::kHelp);
  EXPECT_TRUE(p.text.starts_with("usage: nvlab campaign merge SHARD.json... [--allow-missing]"))
      << p.text;
  EXPECT_NE(p.text.find("--allow-missing"), std::string::npos);
  EXPECT_EQ(p.text.find("Lab options"), std::string::npos);
}

}  // namespace
