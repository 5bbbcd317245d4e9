// campaign_runner_test.cc -- RunCases with fake executors: judging, jobs at once, results in
// order, interruption, progress lines, output tails.

#include "nvlab/campaign/campaign_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace {

using nvlab::Status;
using nvlab::campaign::CampaignCase;
using nvlab::campaign::CaseOutcome;
using nvlab::campaign::CaseResult;
using nvlab::campaign::CaseStatus;
using nvlab::campaign::RunnerOptions;

CampaignCase Case(size_t index, int expect = 0, std::optional<int> expect_before = {}) {
  CampaignCase c;
  c.index = index;
  c.test = "t";
  c.machine = "default";
  c.persistence = "adr";
  c.on_cut = "random:" + std::to_string(index);
  c.id = "t/default/adr/" + c.on_cut;
  c.expect = expect;
  c.expect_before = expect_before;
  return c;
}

CaseOutcome Exited(int before, int after) {
  CaseOutcome o;
  o.before_exit = before;
  o.after_exit = after;
  o.lost_lines = 2;
  return o;
}

CaseResult Judge(const CampaignCase& c, const CaseOutcome& o) {
  return nvlab::campaign::JudgeCase(c, o, 1.0, "host", 2);
}

TEST(CampaignJudgeTest, PassWhenTheStatusesAreTheExpectedOnes) {
  const CaseResult r = Judge(Case(4, 3, 1), Exited(1, 3));
  EXPECT_EQ(r.status, CaseStatus::kPass);
  EXPECT_EQ(r.message, "");
  EXPECT_EQ(r.index, 4u);
  EXPECT_EQ(r.id, "t/default/adr/random:4");
  EXPECT_EQ(r.test, "t");
  EXPECT_EQ(r.on_cut, "random:4");
  EXPECT_EQ(r.host, "host");
  EXPECT_EQ(r.ran_on, std::vector<std::string>{"host"});
  EXPECT_EQ(r.shard, 2);
  EXPECT_EQ(r.expected, 3);
  EXPECT_EQ(r.expected_before, 1);
  EXPECT_EQ(r.before_exit, 1);
  EXPECT_EQ(r.after_exit, 3);
  EXPECT_EQ(r.lost_lines, 2u);
  EXPECT_EQ(r.seconds, 1.0);
  // Without expect-before, before's status does not matter.
  EXPECT_EQ(Judge(Case(0), Exited(9, 0)).status, CaseStatus::kPass);
  CaseOutcome cut = Exited(0, 0);
  cut.before_exit.reset();
  cut.before_cut_power = true;
  EXPECT_EQ(Judge(Case(0), cut).status, CaseStatus::kPass);
}

TEST(CampaignJudgeTest, FailSaysWhichStatusDiffered) {
  EXPECT_EQ(Judge(Case(0), Exited(0, 1)).message, "after exited 1, expected exit 0");
  EXPECT_EQ(Judge(Case(0, 0, 0), Exited(2, 0)).message, "before exited 2, expected exit 0");
  const CaseResult both = Judge(Case(0, 5, 0), Exited(2, 1));
  EXPECT_EQ(both.status, CaseStatus::kFail);
  EXPECT_EQ(both.message, "before exited 2, expected exit 0; after exited 1, expected exit 5");
  CaseOutcome cut = Exited(0, 0);
  cut.before_exit.reset();
  cut.before_cut_power = true;
  EXPECT_EQ(Judge(Case(0, 0, 0), cut).message, "before cut the power itself, expected exit 0");
  cut = Exited(0, 0);
  cut.after_exit.reset();
  cut.after_cut_power = true;
  EXPECT_EQ(Judge(Case(0), cut).message, "after cut the power itself, expected exit 0");
  EXPECT_EQ(Judge(Case(0), cut).status, CaseStatus::kFail);
}

TEST(CampaignJudgeTest, ALabFailureIsAnErrorWithNvlabsMessage) {
  CaseOutcome o;
  o.status = Status::Timeout("--timeout 10 s expired: while booting");
  o.stdout_tail = "partial";
  const CaseResult r = Judge(Case(0), o);
  EXPECT_EQ(r.status, CaseStatus::kError);
  EXPECT_EQ(r.message, "--timeout 10 s expired: while booting");
  EXPECT_EQ(r.stdout_tail, "partial");
  EXPECT_FALSE(r.after_exit.has_value());
  o.status = Status::GuestDied(std::string(100000, 'x'));
  EXPECT_LT(Judge(Case(0), o).message.size(), 17000u) << "messages are bounded";
}

// FakeExecutor answers each case from a table (after exit = index % 3 == 2 ? 1 : 0) and
// records what ran, and how many ran at once.
class FakeExecutor : public nvlab::campaign::CaseExecutor {
 public:
  CaseOutcome Run(const CampaignCase& c) override {
    {
      std::unique_lock lock(mutex_);
      ++running_;
      max_running_ = std::max(max_running_, running_);
      runs_[c.index]++;
      // The first `rendezvous_` cases wait for each other: they must run at the same time.
      if (c.index < rendezvous_) {
        ++arrived_;
        changed_.notify_all();
        met_ &= changed_.wait_for(lock, std::chrono::seconds(60),
                                  [this] { return arrived_ >= rendezvous_; });
      }
    }
    CaseOutcome o = Exited(0, c.index % 3 == 2 ? 1 : 0);
    if (c.index == 4) o.status = Status::GuestDied("QEMU died");
    if (after_) after_(c);
    std::lock_guard lock(mutex_);
    --running_;
    return o;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<size_t, int> runs_;
  int running_ = 0;
  int max_running_ = 0;
  size_t rendezvous_ = 0;
  size_t arrived_ = 0;
  bool met_ = true;
  std::function<void(const CampaignCase&)> after_;
};

// RecordingProgress keeps what the runner told it.
class RecordingProgress : public nvlab::campaign::RunnerProgress {
 public:
  void CaseFinished(size_t done, size_t total, const CaseResult& r) override {
    finished.push_back(std::to_string(done) + "/" + std::to_string(total) + " " + r.id);
  }
  void Running(size_t, size_t, const std::vector<std::string>& ids, double) override {
    max_ids = std::max(max_ids, ids.size());
  }
  void Done() override { ++done_calls; }

  std::vector<std::string> finished;
  size_t max_ids = 0;
  int done_calls = 0;
};

std::vector<CampaignCase> Cases(size_t n) {
  std::vector<CampaignCase> cases;
  for (size_t i = 0; i < n; ++i) cases.push_back(Case(i * 3 + 1));  // indexes of one shard
  return cases;
}

TEST(CampaignRunnerTest, RunsEveryCaseOnceJobsAtATimeAndKeepsTheOrder) {
  const auto cases = Cases(9);
  FakeExecutor executor;
  RecordingProgress progress;
  RunnerOptions options;
  options.jobs = 3;
  options.host = "h";
  options.shard = 2;
  options.of = 3;
  options.interrupted = [] { return false; };
  bool interrupted = true;
  const auto results =
      nvlab::campaign::RunCases(cases, options, &executor, &progress, &interrupted);
  EXPECT_FALSE(interrupted);
  ASSERT_EQ(results.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(results[i].index, cases[i].index);
    EXPECT_EQ(results[i].id, cases[i].id);
    EXPECT_EQ(results[i].shard, 2);
    EXPECT_EQ(results[i].host, "h");
    EXPECT_EQ(executor.runs_[cases[i].index], 1);
    const CaseStatus expected = cases[i].index == 4       ? CaseStatus::kError
                                : cases[i].index % 3 == 2 ? CaseStatus::kFail
                                                          : CaseStatus::kPass;
    EXPECT_EQ(results[i].status, expected) << cases[i].index;
  }
  EXPECT_LE(executor.max_running_, 3);
  ASSERT_EQ(progress.finished.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_TRUE(progress.finished[i].starts_with(std::to_string(i + 1) + "/9 "));
  }
  EXPECT_LE(progress.max_ids, 3u);
  EXPECT_EQ(progress.done_calls, 1);
}

TEST(CampaignRunnerTest, JobsRunAtTheSameTime) {
  std::vector<CampaignCase> cases;
  for (size_t i = 0; i < 4; ++i) cases.push_back(Case(i));
  FakeExecutor executor;
  executor.rendezvous_ = 2;  // cases 0 and 1 wait for each other: serial would never meet
  RunnerOptions options;
  options.jobs = 2;
  options.interrupted = [] { return false; };
  const auto results = nvlab::campaign::RunCases(cases, options, &executor, nullptr);
  EXPECT_TRUE(executor.met_) << "the first two cases did not run at the same time";
  EXPECT_EQ(executor.max_running_, 2);
  EXPECT_EQ(results.size(), 4u);
}

TEST(CampaignRunnerTest, MoreJobsThanCasesAndNoCases) {
  FakeExecutor executor;
  RunnerOptions options;
  options.jobs = 64;
  options.interrupted = [] { return false; };
  EXPECT_EQ(nvlab::campaign::RunCases(Cases(2), options, &executor, nullptr).size(), 2u);
  RecordingProgress progress;
  bool interrupted = true;
  EXPECT_TRUE(nvlab::campaign::RunCases({}, options, &executor, &progress, &interrupted).empty());
  EXPECT_FALSE(interrupted);
}

TEST(CampaignRunnerTest, AnInterruptionStopsNewCasesAndLeavesThemNotRun) {
  const auto cases = Cases(5);
  FakeExecutor executor;
  std::atomic<bool> stop{false};
  // Interrupted while the second case runs: it ends cancelled, nothing else starts.
  executor.after_ = [&stop](const CampaignCase& c) {
    if (c.index == 4) stop = true;
  };
  RunnerOptions options;
  options.jobs = 1;
  options.interrupted = [&stop] { return stop.load(); };
  bool interrupted = false;
  const auto results = nvlab::campaign::RunCases(cases, options, &executor, nullptr, &interrupted);
  EXPECT_TRUE(interrupted);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].status, CaseStatus::kPass);
  // Case 4 failed (QEMU died) while interrupted: it did not finish, it was stopped.
  EXPECT_EQ(results[1].status, CaseStatus::kNotRun);
  EXPECT_EQ(results[1].message, "not run: interrupted (QEMU died)");
  EXPECT_TRUE(results[1].ran_on.empty());
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_EQ(results[i].status, CaseStatus::kNotRun);
    EXPECT_EQ(results[i].message, "not run: the campaign was interrupted before it started");
    EXPECT_EQ(executor.runs_.count(cases[i].index), 0u);
  }
}

TEST(CampaignRunnerTest, ACancelledCaseIsNotRun) {
  class Cancelled : public nvlab::campaign::CaseExecutor {
   public:
    CaseOutcome Run(const CampaignCase&) override {
      CaseOutcome o;
      o.status = Status::Cancelled("interrupted by signal 2 during boot");
      return o;
    }
  } executor;
  RunnerOptions options;
  options.interrupted = [] { return false; };
  const auto results = nvlab::campaign::RunCases(Cases(1), options, &executor, nullptr);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, CaseStatus::kNotRun);
  EXPECT_EQ(results[0].message, "not run: interrupted (interrupted by signal 2 during boot)");
}

TEST(CampaignRunnerTest, AnExecutorsExceptionIsThatCasesError) {
  class Throwing : public nvlab::campaign::CaseExecutor {
   public:
    CaseOutcome Run(const CampaignCase& c) override {
      if (c.index == 1) throw std::bad_alloc();
      return Exited(0, 0);
    }
  } executor;
  RunnerOptions options;
  options.jobs = 2;
  options.interrupted = [] { return false; };
  const auto results = nvlab::campaign::RunCases(Cases(2), options, &executor, nullptr);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, CaseStatus::kError);
  EXPECT_TRUE(results[0].message.starts_with("internal error: ")) << results[0].message;
  EXPECT_EQ(results[1].status, CaseStatus::kPass);
}

std::string ReadAll(std::FILE* f) {
  std::string text;
  std::rewind(f);
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
  return text;
}

TEST(CampaignProgressTest, OneLinePerCaseAndAStatusLineOnTerminals) {
  CaseResult pass;
  pass.id = "records/default/adr/lose";
  pass.status = CaseStatus::kPass;
  pass.seconds = 12.34;
  CaseResult fail = pass;
  fail.status = CaseStatus::kFail;
  fail.message = "after exited 1, expected exit 0\nsecond line";
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    nvlab::campaign::TextProgress progress(f, false);
    progress.Running(0, 24, {"a/b/adr/lose"}, 3);
    progress.CaseFinished(5, 24, pass);
    progress.CaseFinished(6, 24, fail);
    progress.Done();
  }
  EXPECT_EQ(ReadAll(f),
            "nvlab campaign: [5/24] pass records/default/adr/lose (12.3 s)\n"
            "nvlab campaign: [6/24] fail records/default/adr/lose (12.3 s): after exited 1, "
            "expected exit 0\n");
  (void)std::fclose(f);

  f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    nvlab::campaign::TextProgress progress(f, true, 80);
    progress.Running(0, 2, {"a/b/adr/lose", "c/d/eadr/keep"}, 75);
    progress.CaseFinished(1, 2, pass);
    progress.Running(1, 2, {std::string(100, 'x')}, 80);
    progress.Done();
  }
  const std::string text = ReadAll(f);
  EXPECT_EQ(text,
            "\r\033[Knvlab campaign: 0/2 done, 1m15s, running: a/b/adr/lose c/d/eadr/keep"
            "\r\033[Knvlab campaign: [1/2] pass records/default/adr/lose (12.3 s)\n"
            "\r\033[Knvlab campaign: 1/2 done, 1m20s, running: " +
                std::string(34, 'x') + "...\r\033[K");
  (void)std::fclose(f);
}

TEST(CampaignProgressTest, GuestTextIsEscaped) {
  CaseResult r;
  r.id = "t/m/adr/lose";
  r.status = CaseStatus::kError;
  r.message = "\x1b[2Jboom";
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  nvlab::campaign::TextProgress(f, false).CaseFinished(1, 1, r);
  EXPECT_EQ(ReadAll(f), "nvlab campaign: [1/1] error t/m/adr/lose (0.0 s): \\x1b[2Jboom\n");
  (void)std::fclose(f);
}

TEST(OutputTailTest, KeepsTheLastBytesOfEachStream) {
  nvlab::campaign::OutputTail tail(10);
  tail.Stdout("0123456789");
  tail.Stdout("abc");
  tail.Stderr("x");
  EXPECT_EQ(tail.StdoutTail(), "3456789abc");
  EXPECT_EQ(tail.StderrTail(), "x");
  for (int i = 0; i < 100; ++i) tail.Stdout(std::to_string(i % 10));
  EXPECT_EQ(tail.StdoutTail(), "0123456789");
  tail.Stdout(std::string(1000, 'z') + "END");
  EXPECT_EQ(tail.StdoutTail(), "zzzzzzzEND");
  nvlab::campaign::OutputTail big;
  big.Stderr(std::string(nvlab::campaign::kOutputTailBytes + 5, 'q'));
  EXPECT_EQ(big.StderrTail().size(), nvlab::campaign::kOutputTailBytes);
}

}  // namespace
