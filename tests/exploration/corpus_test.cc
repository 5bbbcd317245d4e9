// corpus_test.cc -- nvlab explore on the crash corpus (corpus/crash_corpus.cc) in real guests:
// every correct program passes every crash state, every mutant is caught and its report names
// the line whose write did not persist; pruned and exhaustive exploration agree; the same seed
// gives the same result.
//
// The corpus runs on a devdax NVDIMM: the dax device's data starts at a 2 MiB-aligned offset of
// the NVDIMM (the namespace's alignment), so a line's offset in the NVDIMM modulo 2 MiB is its
// offset in the program's mapping, which is how the tests name lines.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "file_text.h"
#include "nvlab_process.h"

namespace nvlab::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kDaxAlign = 2ull << 20;

struct CorpusCase {
  const char* program;
  const char* variant;
  // The lines (64-byte indexes in the program's mapping, first to last) of which a failing state
  // must name one as not persisted; -1: the variant is correct. A range where the bug repeats
  // per entry: the kernel's own fences (an interrupt between a flush and the program's next
  // store) may close the window at some entries, so which entry fails varies from run to run.
  int missed_first;
  int missed_last;
};

// PrintTo names a case in test output (CTest lists parameters by it).
void PrintTo(const CorpusCase& c, std::ostream* os) {
  *os << c.program << " " << c.variant;
}

std::string CaseName(const ::testing::TestParamInfo<CorpusCase>& info) {
  std::string name = std::string(info.param.program) + "_" + info.param.variant;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

class CorpusTest : public ::testing::TestWithParam<CorpusCase> {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Explore runs nvlab explore on the case and returns its JSON report.
  nlohmann::json Explore(const std::vector<std::string>& extra, NvlabResult* result) {
    const CorpusCase& c = GetParam();
    const std::string program = std::string("/host/crash-corpus ") + c.program + " " + c.variant;
    const std::string json = dir_ + "/report.json";
    std::vector<std::string> args = {"explore",
                                     "--share",
                                     NVLAB_CORPUS_SHARE,
                                     "--timeout",
                                     "800",
                                     "--workload",
                                     program + " write \"$NVLAB_PMEM\"",
                                     "--check",
                                     program + " check \"$NVLAB_PMEM\"",
                                     "--json",
                                     json,
                                     "--recording",
                                     dir_ + "/recording"};
    args.insert(args.end(), extra.begin(), extra.end());
    *result = RunNvlab(args);
    if (!fs::exists(json)) return nlohmann::json();
    return nlohmann::json::parse(FileText(json), nullptr, /*allow_exceptions=*/false);
  }

  std::string dir_;
};

// The line offsets (in the program's mapping) of every missed write in the report.
std::set<uint64_t> MissedLines(const nlohmann::json& report) {
  std::set<uint64_t> lines;
  for (const auto& failure : report["failures"]) {
    for (const auto& line : failure["lines"]) {
      for (const auto& missed : line["missed"]) {
        lines.insert(missed["offset"].get<uint64_t>() % kDaxAlign / 64);
      }
    }
  }
  return lines;
}

// One pruned and one exhaustive exploration per case: the verdict, the store the report names,
// and the two explorations agreeing (pruning is sound; the exhaustive one with two guests).
TEST_P(CorpusTest, VerdictStoreThatDidNotPersistAndPruningSound) {
  const CorpusCase& c = GetParam();
  NvlabResult result;
  const nlohmann::json report = Explore({}, &result);
  ASSERT_TRUE(report.is_object()) << Describe(result);
  const size_t summary = result.err.rfind("nvlab: explored");
  ASSERT_NE(summary, std::string::npos) << Describe(result);
  const std::string last = result.err.substr(summary);
  EXPECT_NE(last.find(" crash points in "), std::string::npos) << last;
  EXPECT_GT(report["totals"]["crash_points"].get<uint64_t>(), 1u) << Describe(result);
  if (c.missed_first < 0) {
    EXPECT_EQ(result.exit_status, 0) << Describe(result);
    EXPECT_NE(last.find(": 0 failed"), std::string::npos) << last;
    EXPECT_GT(report["totals"]["checked"].get<uint64_t>(), 1u) << Describe(result);
  } else {
    EXPECT_EQ(result.exit_status, 1) << Describe(result);
    ASSERT_FALSE(report["failures"].empty()) << Describe(result);
    const std::set<uint64_t> missed = MissedLines(report);
    const auto named_line = missed.lower_bound(static_cast<uint64_t>(c.missed_first));
    EXPECT_TRUE(named_line != missed.end() && *named_line <= static_cast<uint64_t>(c.missed_last))
        << "expected lines " << c.missed_first << "-" << c.missed_last
        << ", missed lines in the report: " << nlohmann::json(missed).dump() << "\n"
        << Describe(result);
    // The failing state names the process that stored and, crash-corpus being a static
    // executable in the share folder, the function the store ran in.
    bool named = false;
    bool symbolized = false;
    bool fence_symbolized = false;  // the crash point's fence, in the guest library
    for (const auto& failure : report["failures"]) {
      fence_symbolized |=
          failure["symbol"].get<std::string>().find("NonVolatile") != std::string::npos;
      for (const auto& line : failure["lines"]) {
        for (const auto& m : line["missed"]) {
          named |= m["process"] == "crash-corpus";
          symbolized |= m["symbol"].get<std::string>().find("+0x") != std::string::npos;
        }
      }
    }
    EXPECT_TRUE(named) << Describe(result);
    EXPECT_TRUE(symbolized) << Describe(result);
    if (std::string(c.program) != "two-field") {  // its fences are its own raw SFENCEs
      EXPECT_TRUE(fence_symbolized) << Describe(result);
    }
  }

  // The same recording (the workload's own run is not deterministic: an interrupt between a
  // flush and its fence adds the kernel's fences), explored exhaustively by two check guests
  // (batches of two states at once: the same totals as one guest would give).
  NvlabResult full_run;
  const nlohmann::json full = Explore({"--no-prune", "--jobs", "2"}, &full_run);
  ASSERT_TRUE(full.is_object()) << Describe(full_run);
  EXPECT_EQ(full["reused_recording"], true);
  EXPECT_EQ(result.exit_status, full_run.exit_status) << Describe(full_run);
  EXPECT_EQ(report["totals"]["states"], full["totals"]["states"]);
  EXPECT_EQ(report["totals"]["failed_states"], full["totals"]["failed_states"]);
  EXPECT_EQ(full["totals"]["pruned"], "0");
  // Exhaustive checks every state; pruning never checks more.
  EXPECT_LE(report["totals"]["checked"].get<uint64_t>(), full["totals"]["checked"].get<uint64_t>());
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusTest,
                         ::testing::Values(CorpusCase{"log-append", "correct", -1, -1},
                                           CorpusCase{"log-append", "missing-flush", 1, 1},
                                           CorpusCase{"log-append", "missing-drain", 1, 3},
                                           CorpusCase{"pointer-swing", "correct", -1, -1},
                                           CorpusCase{"pointer-swing", "publish-before-persist", 2,
                                                      2},
                                           CorpusCase{"pointer-swing", "wrong-range", 3, 3},
                                           CorpusCase{"two-field", "correct", -1, -1},
                                           CorpusCase{"two-field", "torn-16", 4, 4},
                                           CorpusCase{"ring-buffer", "correct", -1, -1},
                                           CorpusCase{"ring-buffer", "missing-drain", 9, 11},
                                           CorpusCase{"undo-log", "correct", -1, -1},
                                           CorpusCase{"undo-log", "missing-flush", 20, 20}),
                         CaseName);

// The same seed gives the same states and verdicts (a sampled exploration of one recording).
TEST(CorpusSeedTest, SameSeedSameStatesAndVerdicts) {
  const std::string dir = MakeTempDir();
  auto run = [&](const std::string& name) {
    const std::string json = dir + "/" + name;
    const std::string program = "/host/crash-corpus log-append missing-flush";
    NvlabResult result = RunNvlab({"explore",
                                   "--share",
                                   NVLAB_CORPUS_SHARE,
                                   "--timeout",
                                   "800",
                                   "--workload",
                                   program + " write \"$NVLAB_PMEM\"",
                                   "--check",
                                   program + " check \"$NVLAB_PMEM\"",
                                   "--crash-points",
                                   "sample:3",
                                   "--seed",
                                   "7",
                                   "--no-prune",
                                   "--max-states",
                                   "2",
                                   "--json",
                                   json,
                                   "--recording",
                                   dir + "/recording"});
    EXPECT_EQ(result.exit_status, 1) << Describe(result);
    return nlohmann::json::parse(FileText(json), nullptr, false);
  };
  const nlohmann::json a = run("a.json");
  const nlohmann::json b = run("b.json");
  ASSERT_TRUE(a.is_object());
  EXPECT_EQ(a["crash_points"], b["crash_points"]);
  EXPECT_EQ(a["totals"], b["totals"]);
  EXPECT_EQ(a["failures"].size(), b["failures"].size());
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace nvlab::testing
