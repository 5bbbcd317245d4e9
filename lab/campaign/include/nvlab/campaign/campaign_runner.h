// File: nvlab/campaign/campaign_runner.h
//
// RunCases runs one shard's cases, `jobs` at a time on worker threads, and judges each: pass
// (the after command exited as expected, and the before command too when the test says what it
// expects), fail (a status differed; the message says which), error (the lab failed: the
// message is nvlab's), not-run (interrupted before it finished).
//
// The power-cycle itself is a CaseExecutor's: the nvlab command gives one that drives a
// LabSession (lab/cli/campaign_command.cc), the tests give fakes. So this library knows nothing
// of QEMU, and the threads, the judging and the interruption rules can be tested without it.
//
// Interruption (SIGINT, SIGTERM, SIGHUP; nvlab/interruption.h): no new case starts, running ones
// end as the lab cancels them (a Cancelled status, or any failure once interrupted, makes them
// not-run), and RunCases returns with every unfinished case not-run.
//
// Thread-safety: RunCases calls the executor from up to `jobs` threads at once (one case per
// call) and the progress sink from one thread at a time. Worker threads live until the last case
// ends, so processes a case started (QEMU, killed when the thread that started it exits) live
// as long as the case.

#ifndef NVLAB_CAMPAIGN_CAMPAIGN_RUNNER_H_
#define NVLAB_CAMPAIGN_CAMPAIGN_RUNNER_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/campaign/campaign_file.h"
#include "nvlab/campaign/campaign_report.h"
#include "nvlab/guest.h"
#include "nvlab/status.h"

namespace nvlab::campaign {

inline constexpr int kMaxJobs = 64;

// CaseOutcome is what one case's power-cycle gave.
struct CaseOutcome {
  Status status;  // not OK: the lab failed (or timed out, or was cancelled)
  // A command that cut the power itself (NvLabPowerCut) has no exit status.
  bool before_cut_power = false;
  std::optional<int> before_exit;
  bool after_cut_power = false;
  std::optional<int> after_exit;
  std::optional<uint64_t> lost_lines;  // the cut report's total, when the model wrote one
  std::string stdout_tail;
  std::string stderr_tail;
};

// CaseExecutor runs one case's power-cycle.
class CaseExecutor {
 public:
  virtual ~CaseExecutor() = default;
  // Run is called from several threads at once, each with its own case.
  virtual CaseOutcome Run(const CampaignCase& c) = 0;
};

// OutputTail is an OutputSink that keeps the last `limit` bytes of each stream.
// Thread-safety: one thread at a time.
class OutputTail : public OutputSink {
 public:
  explicit OutputTail(size_t limit = kOutputTailBytes) : limit_(limit) {}
  void Stdout(std::string_view bytes) override { Append(&out_, bytes); }
  void Stderr(std::string_view bytes) override { Append(&err_, bytes); }
  std::string StdoutTail() const { return Tail(out_); }
  std::string StderrTail() const { return Tail(err_); }

 private:
  void Append(std::string* buffer, std::string_view bytes);
  std::string Tail(const std::string& buffer) const;

  size_t limit_;
  std::string out_;
  std::string err_;
};

// RunnerProgress hears of the run as it goes (one call at a time).
class RunnerProgress {
 public:
  virtual ~RunnerProgress() = default;
  // CaseFinished: `done` of `total` cases have ended, `result` the latest.
  virtual void CaseFinished(size_t done, size_t total, const CaseResult& result) = 0;
  // Running: the ids of the cases running now, about once a second and at every change.
  virtual void Running(size_t done, size_t total, const std::vector<std::string>& ids,
                       double elapsed_seconds) = 0;
  // Done: the run is over (clear any status line).
  virtual void Done() = 0;
};

// TextProgress writes nvlab's progress to a stream (stderr): one line per finished case,
//   nvlab campaign: [5/24] pass records/default/adr/lose (12.3 s)
// (a failure or error adds ": " and its message's first line), and, when `terminal`, a status
// line rewritten in place, cut to `columns`.
class TextProgress : public RunnerProgress {
 public:
  TextProgress(std::FILE* stream, bool terminal, size_t columns = 100)
      : stream_(stream), terminal_(terminal), columns_(columns < 20 ? 20 : columns) {}
  void CaseFinished(size_t done, size_t total, const CaseResult& result) override;
  void Running(size_t done, size_t total, const std::vector<std::string>& ids,
               double elapsed_seconds) override;
  void Done() override;

 private:
  void ClearStatus();

  std::FILE* stream_;
  bool terminal_;
  size_t columns_;
  std::string status_;  // the status line now shown ("" for none)
};

struct RunnerOptions {
  int jobs = 1;  // 1 to kMaxJobs
  std::string host;
  int shard = 1;
  int of = 1;
  // interrupted says whether to stop; default: nvlab::InterruptionSignal() != 0.
  std::function<bool()> interrupted;
};

// JudgeCase makes the result of case c from its outcome: status, message, exit statuses.
// The identity fields (index, id, ..., host, shard) come from c and host/shard.
CaseResult JudgeCase(const CampaignCase& c, const CaseOutcome& outcome, double seconds,
                     const std::string& host, int shard);

// NotRunResult is case c as not run, with `message`.
CaseResult NotRunResult(const CampaignCase& c, const std::string& host, int shard,
                        std::string message);

// RunCases runs cases (in order of their index; up to options.jobs at once) and returns one
// result per case, in the same order. *interrupted (when non-null) says whether an interruption
// stopped the run.
std::vector<CaseResult> RunCases(const std::vector<CampaignCase>& cases,
                                 const RunnerOptions& options, CaseExecutor* executor,
                                 RunnerProgress* progress, bool* interrupted = nullptr);

}  // namespace nvlab::campaign

#endif  // NVLAB_CAMPAIGN_CAMPAIGN_RUNNER_H_
