// file_system_test.cc -- nvlab explore on a kernel file system in a real guest: ext4 mounted
// -o dax on an fsdax NVDIMM (machine fsdax-ext4), the atomic-replace workload of
// corpus/file_replace.cc. Each crash state's check mounts the file system (the check loop's
// attach: the journal replays) and reads the files.
//
// The correct pattern (write a temporary file, fsync, rename over the target, fsync the
// directory) never fails the check. What can fail is the mount itself: the pmem driver writes
// journal blocks with 8-byte non-temporal stores, so a power cut can leave a journal block torn
// (a commit block's magic and sequence on the media, its checksum not; a descriptor block in
// part), and jbd2 then refuses the journal ("Structure needs cleaning", "Bad message") instead
// of ending it there. That is ext4 on an NVDIMM without
// BTT's sector atomicity, not the pattern: such failures are accepted only when the write that
// did not persist is jbd2's. The mutant (content stored through a DAX mapping, never msync'ed)
// must fail the check itself, naming the program's store.

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "file_text.h"
#include "nvlab_process.h"

namespace nvlab::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMountRefused = "the NVDIMMs did not mount: ";

class FileSystemExplorationTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Explore runs nvlab explore on a variant of file-replace with `bounds` and returns its JSON
  // report. The recording is kept in the test's folder: a second call explores the same one.
  nlohmann::json Explore(const std::string& variant, const std::vector<std::string>& bounds,
                         NvlabResult* result) {
    const std::string program = "/host/file-replace " + variant;
    const std::string json = dir_ + "/report.json";
    std::error_code ec;
    fs::remove(json, ec);
    std::vector<std::string> args = {"explore",
                                     "--machine",
                                     "fsdax-ext4",
                                     "--share",
                                     NVLAB_CORPUS_SHARE,
                                     "--timeout",
                                     "800",
                                     "--workload",
                                     program + " write \"$NVLAB_PMEM\"",
                                     "--check",
                                     program + " check \"$NVLAB_PMEM\"",
                                     "--recording",
                                     dir_ + "/recording",
                                     "--json",
                                     json};
    args.insert(args.end(), bounds.begin(), bounds.end());
    *result = RunNvlab(args);
    if (!fs::exists(json)) return nlohmann::json();
    return nlohmann::json::parse(FileText(json), nullptr, /*allow_exceptions=*/false);
  }

  std::string dir_;
};

// The last stderr line: `nvlab: explored N crash states (D distinct, P pruned) at C crash
// points in T s: F failed` (counts of states may read `>= 18446744073709551615`).
void ExpectSummaryLine(const NvlabResult& result) {
  const size_t at = result.err.rfind("nvlab: explored");
  ASSERT_NE(at, std::string::npos) << Describe(result);
  const std::string last = result.err.substr(at);
  static const std::regex kSummary(
      "nvlab: explored (>= )?[0-9]+ crash states \\([0-9]+ distinct, (>= )?[0-9]+ pruned\\) at "
      "[0-9]+ crash points in [0-9]+(\\.[0-9]+)? s: (>= )?[0-9]+ failed\n?");
  EXPECT_TRUE(std::regex_match(last, kSummary)) << last;
  std::cout << last;  // the figures, in the test's log
}

// A failure's missed writes, as "process" names.
std::vector<std::string> MissedBy(const nlohmann::json& failure) {
  std::vector<std::string> processes;
  for (const auto& line : failure["lines"]) {
    for (const auto& missed : line["missed"]) processes.push_back(missed["process"]);
  }
  return processes;
}

// ExpectNoFalseAlarm: the check never failed; a state failed only where ext4 refused to mount
// after jbd2 wrote a journal block in part.
void ExpectNoFalseAlarm(const NvlabResult& result, const nlohmann::json& report) {
  ASSERT_TRUE(report.is_object()) << Describe(result);
  ExpectSummaryLine(result);
  EXPECT_GT(report["totals"]["crash_points"].get<uint64_t>(), 10u) << Describe(result);
  EXPECT_GT(report["totals"]["checked"].get<uint64_t>(), 10u) << Describe(result);
  for (const auto& failure : report["failures"]) {
    const std::string verdict = failure["verdict"];
    // The check itself never fails: every file holds one complete version, in order.
    EXPECT_EQ(verdict.rfind(kMountRefused, 0), 0u)
        << verdict << ": " << failure["check_output"].get<std::string>();
    bool by_jbd2 = false;
    for (const std::string& p : MissedBy(failure)) by_jbd2 |= p.rfind("jbd2/", 0) == 0;
    EXPECT_TRUE(by_jbd2) << failure.dump();
  }
  EXPECT_EQ(result.exit_status, report["failures"].empty() ? 0 : 1) << Describe(result);
  if (!report["failures"].empty()) {
    std::cout << "note: " << report["failures"].size()
              << " state(s) where ext4 refused a journal block jbd2 wrote in part\n";
  }
}

// Bounded explorations, as a user would run them on a file system (up to a block's 64 lines in
// flight per crash point, with up to 2^8 contents each: far too many states to try all):
// pruned, depth first, three states per crash point; then the same recording, a seeded sample
// of whole states at 100 sampled crash points (a recording has 120 to 800 of them: the
// kernel's background writes vary from run to run).
TEST_F(FileSystemExplorationTest, AtomicReplaceNeverFailsTheCheck) {
  NvlabResult result;
  nlohmann::json report = Explore("correct", {"--max-states", "3"}, &result);
  ExpectNoFalseAlarm(result, report);
  report = Explore(
      "correct", {"--crash-points", "sample:100", "--no-prune", "--max-states", "2", "--seed", "1"},
      &result);
  ExpectNoFalseAlarm(result, report);
  EXPECT_EQ(report["reused_recording"], true);
}

// Plain stores through a DAX mapping, never flushed: the renamed file holds stale data.
TEST_F(FileSystemExplorationTest, UnflushedMmapStoresAreCaught) {
  NvlabResult result;
  const nlohmann::json report = Explore("mmap-no-msync", {"--max-states", "1"}, &result);
  ASSERT_TRUE(report.is_object()) << Describe(result);
  ExpectSummaryLine(result);
  EXPECT_EQ(result.exit_status, 1) << Describe(result);
  bool check_failed = false;
  bool user_store = false;  // a store of the program's (a user-space PC) did not persist
  for (const auto& failure : report["failures"]) {
    if (failure["verdict"] != "exit 1") continue;
    check_failed = true;
    for (const auto& line : failure["lines"]) {
      for (const auto& missed : line["missed"]) {
        const uint64_t pc = std::stoull(missed["pc"].get<std::string>(), nullptr, 16);
        user_store |= missed["kind"] == "store" && pc < (uint64_t{1} << 47);
        // Named after the program, the PC is in its Replace. (The recording can name another
        // process: the plugin's per-CPU task cache keeps a task whose task_struct and page
        // tables the kernel reused for this one.)
        if (missed["process"] == "file-replace") {
          EXPECT_NE(missed["symbol"].get<std::string>().find("Replace"), std::string::npos)
              << missed.dump();
        }
      }
    }
  }
  EXPECT_TRUE(check_failed) << Describe(result);
  EXPECT_TRUE(user_store) << Describe(result);
}

}  // namespace
}  // namespace nvlab::testing
