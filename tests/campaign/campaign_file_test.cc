// campaign_file_test.cc -- campaign files: every error with its FILE:LINE, the defaults and
// overrides, the expansion order and ids, shards.

#include "nvlab/campaign/campaign_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nvlab::Status;
using nvlab::campaign::Campaign;
using nvlab::campaign::CampaignCase;

const fs::path kMachines = fs::path(NVLAB_SOURCE_DIR) / "qemu-configs";

class CampaignFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/nvlab-campaign-test-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    source_ = dir_ / "t.campaign";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Status Parse(const std::string& text, Campaign* out) {
    return nvlab::campaign::ParseCampaign(text, source_, kMachines, out);
  }

  // ErrorOf parses text and returns the error message ("" when it parsed).
  std::string ErrorOf(const std::string& text) {
    Campaign campaign;
    const Status s = Parse(text, &campaign);
    if (s.ok()) return "";
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    return s.message();
  }

  std::vector<std::string> Ids(const std::string& text) {
    Campaign campaign;
    const Status s = Parse(text, &campaign);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::vector<CampaignCase> cases;
    EXPECT_TRUE(nvlab::campaign::ExpandCampaign(campaign, &cases).ok());
    std::vector<std::string> ids;
    for (size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(cases[i].index, i);
      ids.push_back(cases[i].id);
    }
    return ids;
  }

  void WriteFile(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }

  // At is the expected start of an error: "FILE:LINE: ".
  std::string At(int line) const { return source_.string() + ":" + std::to_string(line) + ": "; }

  fs::path dir_;
  fs::path source_;
};

constexpr char kTest[] = "[test]\nname = t\nbefore = true\nafter = true\n";

TEST_F(CampaignFileTest, MinimalCampaignTakesTheDefaults) {
  Campaign c;
  ASSERT_TRUE(Parse(std::string("name = c\n") + kTest, &c).ok());
  EXPECT_EQ(c.name, "c");
  EXPECT_TRUE(c.share_dir.empty());
  ASSERT_EQ(c.tests.size(), 1u);
  const auto& t = c.tests[0];
  EXPECT_EQ(t.name, "t");
  EXPECT_EQ(t.line, 2);
  EXPECT_EQ(t.before, "true");
  EXPECT_EQ(t.expect, 0);
  EXPECT_FALSE(t.expect_before.has_value());
  EXPECT_EQ(t.timeout_seconds, 300);
  ASSERT_EQ(t.machines.values.size(), 1u);
  EXPECT_EQ(t.machines.values[0].name, "default");
  EXPECT_EQ(t.machines.values[0].file, kMachines / "default.machine");
  EXPECT_EQ(t.persistence.values, std::vector<std::string>{"machine"});
  EXPECT_EQ(t.on_cut.values, std::vector<std::string>{"lose"});
  EXPECT_TRUE(t.seeds.values.empty());
  EXPECT_EQ(Ids(std::string("name = c\n") + kTest), std::vector<std::string>{"t/default/adr/lose"});
}

TEST_F(CampaignFileTest, TestsOverrideTheTopLevelDefaults) {
  const std::string text =
      "name = c\n"
      "timeout = 60\n"
      "machines = eadr\n"
      "persistence = adr\n"
      "on-cut = keep\n"
      "seeds = 5\n"
      "[test]\n"
      "name = a\n"
      "before = true\n"
      "after = true\n"
      "[test]\n"
      "name = b\n"
      "before = true\n"
      "after = exit 3\n"
      "expect = 3\n"
      "expect-before = 255\n"
      "timeout = 7\n"
      "machines = default\n"
      "persistence = eadr\n"
      "on-cut = random:{seed}:0.25\n"
      "seeds = 1..2\n";
  Campaign c;
  ASSERT_TRUE(Parse(text, &c).ok());
  ASSERT_EQ(c.tests.size(), 2u);
  EXPECT_EQ(c.tests[0].timeout_seconds, 60);
  EXPECT_EQ(c.tests[1].timeout_seconds, 7);
  EXPECT_EQ(c.tests[1].expect, 3);
  EXPECT_EQ(c.tests[1].expect_before, 255);
  EXPECT_EQ(c.tests[0].seeds.values, std::vector<uint64_t>{5});
  EXPECT_EQ(c.tests[1].seeds.values, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Ids(text), (std::vector<std::string>{"a/eadr/adr/keep", "b/default/eadr/random:1:0.25",
                                                 "b/default/eadr/random:2:0.25"}));
}

TEST_F(CampaignFileTest, ExpansionOrderIsTestsMachinesPersistenceOnCutSeeds) {
  const std::string text =
      "name = c\n"
      "machines = default, eadr\n"
      "persistence = machine, adr\n"
      "on-cut = lose, random:{seed}, keep\n"
      "seeds = 7, 1..2\n"
      "[test]\nname = x\nbefore = true\nafter = true\n"
      "[test]\nname = y\nbefore = true\nafter = true\nmachines = default\npersistence = eadr\n"
      "on-cut = lose\n";
  // "machine" on the default machine is adr, the same as "adr": the ids would repeat.
  EXPECT_NE(ErrorOf(text).find("case id 'x/default/adr/lose' comes up twice"), std::string::npos)
      << ErrorOf(text);

  const std::string ok =
      "name = c\n"
      "machines = default, eadr\n"
      "persistence = machine, eadr\n"
      "on-cut = lose, random:{seed}, keep\n"
      "seeds = 7, 1..2\n"
      "[test]\nname = x\nbefore = true\nafter = true\n"
      "machines = default\n"
      "[test]\nname = y\nbefore = true\nafter = true\npersistence = adr\non-cut = lose\n";
  EXPECT_EQ(Ids(ok), (std::vector<std::string>{
                         "x/default/adr/lose",
                         "x/default/adr/random:7",
                         "x/default/adr/random:1",
                         "x/default/adr/random:2",
                         "x/default/adr/keep",
                         "x/default/eadr/lose",
                         "x/default/eadr/random:7",
                         "x/default/eadr/random:1",
                         "x/default/eadr/random:2",
                         "x/default/eadr/keep",
                         "y/default/adr/lose",
                         "y/eadr/adr/lose",
                     }));
}

TEST_F(CampaignFileTest, MachinePersistenceIsTheMachinesOwn) {
  EXPECT_EQ(Ids("name = c\nmachines = eadr, default\n" + std::string(kTest)),
            (std::vector<std::string>{"t/eadr/eadr/lose", "t/default/adr/lose"}));
}

TEST_F(CampaignFileTest, CasesCarryEverythingAPowerCycleNeeds) {
  fs::create_directories(dir_ / "progs");
  Campaign c;
  ASSERT_TRUE(Parse("name = c\nshare = progs\n[test]\nname = t\nbefore = echo 1 # kept\n"
                    "after = exit 4\nexpect = 4\nexpect-before = 0\ntimeout = 9\n",
                    &c)
                  .ok());
  std::vector<CampaignCase> cases;
  ASSERT_TRUE(nvlab::campaign::ExpandCampaign(c, &cases).ok());
  ASSERT_EQ(cases.size(), 1u);
  const CampaignCase& k = cases[0];
  EXPECT_EQ(k.test, "t");
  EXPECT_EQ(k.machine, "default");
  EXPECT_EQ(k.machine_file, kMachines / "default.machine");
  EXPECT_EQ(k.persistence, "adr");
  EXPECT_EQ(k.on_cut, "lose");
  EXPECT_EQ(k.before, "echo 1 # kept");  // the shell's comment, not the file's
  EXPECT_EQ(k.after, "exit 4");
  EXPECT_EQ(k.expect, 4);
  EXPECT_EQ(k.expect_before, 0);
  EXPECT_EQ(k.timeout_seconds, 9);
  EXPECT_EQ(k.share_dir, dir_ / "progs");
  EXPECT_TRUE(k.share_dir.is_absolute());
}

TEST_F(CampaignFileTest, CommentsAndBlankLinesAreIgnored) {
  EXPECT_EQ(Ids("# a campaign\n\n  name = c   # its name\n\t\n[test]   # one\n"
                "  # indented comment\nname = t\nbefore = true\nafter = true\r\n"),
            std::vector<std::string>{"t/default/adr/lose"});
}

TEST_F(CampaignFileTest, MachineFilesAreFoundBesideTheCampaign) {
  WriteFile(dir_ / "m" / "big.machine", "name = big\nmemory = 1G\n[nvdimm]\nsize = 512M\n");
  // The same machine named twice (relative and absolute) would repeat its ids.
  EXPECT_TRUE(ErrorOf("name = c\nmachines = m/big.machine, " + (dir_ / "m/big.machine").string() +
                      "\n" + kTest)
                  .starts_with(At(3) + "[test]: case id 't/big/adr/lose' comes up twice"));
  EXPECT_EQ(
      Ids("name = c\nmachines = m/big.machine, default\npersistence = eadr\n" + std::string(kTest)),
      (std::vector<std::string>{"t/big/eadr/lose", "t/default/eadr/lose"}));
}

TEST_F(CampaignFileTest, TheExampleCampaignParses) {
  Campaign c;
  const fs::path example = fs::path(NVLAB_SOURCE_DIR) / "docs/formats/examples/records.campaign";
  const Status s = nvlab::campaign::LoadCampaign(example, kMachines, &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<CampaignCase> cases;
  ASSERT_TRUE(nvlab::campaign::ExpandCampaign(c, &cases).ok());
  EXPECT_EQ(c.name, "records");
  EXPECT_EQ(cases.size(), 12u);
  EXPECT_EQ(cases.front().id, "flush-drain/default/adr/lose");
  EXPECT_EQ(cases[4].id, "flush-drain/default/adr/random:3");
  EXPECT_EQ(cases.back().id, "noflush-kept/default/eadr/lose");
}

TEST_F(CampaignFileTest, LoadCampaignReportsUnreadableAndHugeFiles) {
  Campaign c;
  std::string bytes;
  EXPECT_EQ(nvlab::campaign::LoadCampaign(dir_ / "none", kMachines, &c).code(),
            Status::Code::kNotFound);
  EXPECT_EQ(nvlab::campaign::LoadCampaign(dir_, kMachines, &c).message(),
            "campaign file " + dir_.string() + " is not a regular file");
  WriteFile(source_, std::string("name = c\n") + kTest);
  ASSERT_TRUE(nvlab::campaign::LoadCampaign(source_, kMachines, &c, &bytes).ok());
  EXPECT_EQ(bytes, std::string("name = c\n") + kTest);
  WriteFile(source_, std::string(nvlab::campaign::kMaxCampaignFileBytes + 1, '#'));
  const Status s = nvlab::campaign::LoadCampaign(source_, kMachines, &c);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("larger than 1 MiB"), std::string::npos) << s.message();
}

// ErrorCase: a campaign text and the error it must give, after "FILE:".
struct ErrorCase {
  const char* text;
  const char* error;  // "LINE: field: problem" (a prefix of the message after "FILE:")
};

TEST_F(CampaignFileTest, EveryErrorNamesFileLineAndField) {
  const std::string t = kTest;  // lines 2-5 after a one-line top level
  const ErrorCase cases[] = {
      // syntax
      {"name = c\n[tests]\n", "2: [tests]: unknown section (only [test] exists)"},
      {"name = c\n[test] x\n", "2: [test] x: unknown section"},
      {"name = c\njust words\n", "2: just words: expected 'key = value'"},
      {"name = c\n = 4\n", "2: ?: missing key before '='"},
      {"name = c\nshare =\n", "2: share: missing value"},
      {"name = c\nname = d\n", "2: name: given twice (first at line 1)"},
      {"name = c\nbefore = true\n", "2: before: unknown field (name, share, timeout"},
      {"name = c\n[test]\nshare = x\n", "3: share: unknown field in [test] (name, before"},
      {"name = c\n[test]\nname = t\nname = u\n", "4: name: given twice (first at line 3)"},
      // top level
      {"[test]\nname = t\nbefore = true\nafter = true\n", "1: name: missing"},
      {"name = a/b\n", "1: name: 'a/b': use 1 to 64 of A-Z a-z 0-9 _ . -"},
      {"name = a b\n", "1: name: 'a b'"},
      {"name = 01234567890123456789012345678901234567890123456789012345678901234\n",
       "1: name: '0123"},
      {"name = c\nshare = nowhere\n", "2: share: no folder "},
      {"name = c\n", "2: [test]: a campaign needs at least one [test] section"},
      {"name = c\n# only a comment\n", "3: [test]: a campaign needs at least one [test]"},
      {"name = c\ntimeout = 0\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: timeout: '0': expected seconds, 1 to 86400"},
      {"name = c\ntimeout = 86401\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: timeout: '86401'"},
      // tests
      {"name = c\n[test]\nbefore = true\nafter = true\n", "2: name: missing in this [test]"},
      {"name = c\n[test]\nname = t\nafter = true\n", "2: before: missing in this [test]"},
      {"name = c\n[test]\nname = t\nbefore = true\n", "2: after: missing in this [test]"},
      {"name = c\n[test]\nname = t/u\nbefore = true\nafter = true\n", "3: name: 't/u'"},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\nexpect = 256\n",
       "6: expect: '256': expected an exit status, 0 to 255"},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\nexpect = -1\n", "6: expect: '-1'"},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\nexpect = 0x1\n",
       "6: expect: '0x1'"},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\nexpect-before = x\n",
       "6: expect-before: 'x': expected an exit status"},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\ntimeout = 1.5\n",
       "6: timeout: '1.5'"},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\n"
       "[test]\nname = t\nbefore = true\nafter = true\n",
       "7: name: test 't' is already defined at line 2"},
      // machines
      {"name = c\nmachines = nope\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: machines: no machine named 'nope' in "},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\nmachines = default, nope\n",
       "6: machines: no machine named 'nope'"},
      {"name = c\nmachines = missing.machine\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: machines: no machine file "},
      {"name = c\nmachines = bad.machine\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: machines: "},  // and then the machine file's own FILE:LINE (below)
      {"name = c\nmachines = spaced.machine\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: machines: machine spaced.machine is named 'a b', which a case id cannot hold"},
      {"name = c\nmachines = default,,eadr\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: machines: empty entry in the comma list"},
      {"name = c\nmachines = default,\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: machines: empty entry"},
      // persistence
      {"name = c\npersistence = adr, cpu\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: persistence: 'cpu': expected adr, eadr or machine"},
      // on-cut
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\non-cut = sometimes\n",
       "6: on-cut: 'sometimes': "},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\non-cut = random:{seed}\n",
       "6: on-cut: 'random:{seed}' holds {seed} but no seeds = list applies to test 't'"},
      {"name = c\non-cut = random:{seed}\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: on-cut: 'random:{seed}' holds {seed}"},
      {"name = c\nseeds = 3\non-cut = random:{seed}:2\n[test]\nname = t\nbefore = true\n"
       "after = true\n",
       "3: on-cut: 'random:3:2': "},
      {"name = c\nseeds = 3\non-cut = random:{seeds}\n[test]\nname = t\nbefore = true\n"
       "after = true\n",
       "3: on-cut: 'random:{seeds}': "},
      {"name = c\non-cut = lose,\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: on-cut: empty entry"},
      // seeds
      {"name = c\nseeds = x\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: seeds: 'x': expected a decimal number or a range A..B"},
      {"name = c\nseeds = 1..\n[test]\nname = t\nbefore = true\nafter = true\n", "2: seeds: '1..'"},
      {"name = c\nseeds = -1\n[test]\nname = t\nbefore = true\nafter = true\n", "2: seeds: '-1'"},
      {"name = c\nseeds = 3..1\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: seeds: '3..1': the range ends before it starts"},
      {"name = c\nseeds = 0..10000\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: seeds: more than 10000 seeds in one list"},
      {"name = c\nseeds = 0..9999, 5\n[test]\nname = t\nbefore = true\nafter = true\n",
       "2: seeds: more than 10000 seeds"},
      {"name = c\nseeds = 0..18446744073709551615\n[test]\nname = t\nbefore = true\n"
       "after = true\n",
       "2: seeds: more than 10000 seeds"},
      // expansion
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\npersistence = adr, machine\n",
       "2: [test]: case id 't/default/adr/lose' comes up twice (first from the [test] at line 2)"},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\nseeds = 1, 1\n"
       "on-cut = random:{seed}\n",
       "2: [test]: case id 't/default/adr/random:1' comes up twice"},
      {"name = c\n[test]\nname = t\nbefore = true\nafter = true\non-cut = keep, keep\n",
       "2: [test]: case id 't/default/adr/keep' comes up twice"},
  };
  WriteFile(dir_ / "bad.machine", "vcpus = 99\n");
  WriteFile(dir_ / "spaced.machine", "name = a b\n[nvdimm]\n");
  for (const ErrorCase& c : cases) {
    const std::string error = ErrorOf(c.text);
    EXPECT_TRUE(error.starts_with(source_.string() + ":" + c.error))
        << "campaign:\n"
        << c.text << "\nwanted: " << c.error << "\ngot:    " << error;
  }
  EXPECT_NE(ErrorOf("name = c\nmachines = bad.machine\n" + t)
                .find((dir_ / "bad.machine").string() + ":1: vcpus: not a number from 1 to 64"),
            std::string::npos);
}

TEST_F(CampaignFileTest, TooManyCasesIsAnErrorAtTheTestThatCrossesTheLimit) {
  std::string on_cut;
  for (int p = 0; p <= 10; ++p) {
    on_cut += (on_cut.empty() ? "" : ", ") + std::string("random:{seed}:0.") + std::to_string(p);
  }
  const std::string error = ErrorOf(
      "name = c\nseeds = 0..9999\n[test]\nname = t\nbefore = true\nafter = true\n"
      "on-cut = " +
      on_cut + "\n");
  EXPECT_TRUE(error.starts_with(At(3) + "[test]: the campaign expands to more than 100000 cases"))
      << error;
}

TEST_F(CampaignFileTest, NamesAreTheCaseIdCharset) {
  EXPECT_TRUE(nvlab::campaign::IsCampaignName("a-Z_0.9"));
  EXPECT_TRUE(nvlab::campaign::IsCampaignName(std::string(64, 'x')));
  EXPECT_FALSE(nvlab::campaign::IsCampaignName(std::string(65, 'x')));
  EXPECT_FALSE(nvlab::campaign::IsCampaignName(""));
  for (const char* bad : {"a/b", "a b", "a:b", "é", "a\nb", "{seed}"}) {
    EXPECT_FALSE(nvlab::campaign::IsCampaignName(bad)) << bad;
  }
}

TEST(CampaignShardTest, ParseShardAcceptsIOfNOnly) {
  int i = 0;
  int n = 0;
  ASSERT_TRUE(nvlab::campaign::ParseShard("2/3", &i, &n));
  EXPECT_EQ(i, 2);
  EXPECT_EQ(n, 3);
  ASSERT_TRUE(nvlab::campaign::ParseShard("1/1", &i, &n));
  ASSERT_TRUE(nvlab::campaign::ParseShard("10000/10000", &i, &n));
  for (const char* bad : {"", "1", "/2", "1/", "0/2", "3/2", "1/0", "-1/2", "1/2/3", "a/b", " 1/2",
                          "1 /2", "1/10001", "0x1/2"}) {
    EXPECT_FALSE(nvlab::campaign::ParseShard(bad, &i, &n)) << bad;
  }
}

TEST(CampaignShardTest, ShardsPartitionTheCasesRoundRobin) {
  std::vector<CampaignCase> cases(11);
  for (size_t k = 0; k < cases.size(); ++k) {
    cases[k].index = k;
    cases[k].id = "t/m/adr/" + std::to_string(k);
  }
  for (int n : {1, 2, 3, 11, 12}) {
    std::set<size_t> seen;
    for (int i = 1; i <= n; ++i) {
      const auto shard = nvlab::campaign::SelectShard(cases, i, n);
      size_t previous = 0;
      for (size_t j = 0; j < shard.size(); ++j) {
        EXPECT_EQ(nvlab::campaign::ShardOf(shard[j].index, n), i);
        EXPECT_EQ(static_cast<int>(shard[j].index % static_cast<size_t>(n)) + 1, i);
        if (j > 0) {
          EXPECT_GT(shard[j].index, previous);
        }
        previous = shard[j].index;
        EXPECT_TRUE(seen.insert(shard[j].index).second) << "case in two shards";
      }
    }
    EXPECT_EQ(seen.size(), cases.size()) << n << " shards";
  }
  EXPECT_EQ(nvlab::campaign::SelectShard(cases, 12, 12).size(), 0u);
}

}  // namespace
