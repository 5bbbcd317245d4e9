// campaign_runner.cc -- RunCases: worker threads, judging, progress.

#include "nvlab/campaign/campaign_runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "nvlab/interruption.h"
#include "nvlab/untrusted_text.h"

namespace nvlab::campaign {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Bounded(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  text.resize(limit);
  return text + " ... (cut to " + std::to_string(limit) + " bytes)";
}

std::string OneDecimal(double value) {
  char text[32];
  (void)std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

// FirstLine is a message's first line, printable and at most `limit` bytes.
std::string FirstLine(std::string_view message, size_t limit) {
  std::string line = EscapeUntrusted(message.substr(0, message.find('\n')));
  if (line.size() > limit) line = line.substr(0, limit) + "...";
  return line;
}

void Write(std::FILE* stream, const std::string& text) {
  (void)std::fwrite(text.data(), 1, text.size(), stream);
  (void)std::fflush(stream);
}

// CaseQueue hands out the cases and collects the results; its lock also serializes progress.
class CaseQueue {
 public:
  CaseQueue(const std::vector<CampaignCase>& cases, const RunnerOptions& options,
            CaseExecutor* executor, RunnerProgress* progress)
      : cases_(cases), options_(options), executor_(executor), progress_(progress) {
    results_.reserve(cases.size());
    for (const CampaignCase& c : cases) {
      results_.push_back(NotRunResult(c, options.host, options.shard,
                                      "not run: the campaign was interrupted before it started"));
    }
    running_.resize(cases.size(), false);
  }

  bool Interrupted() const {
    return options_.interrupted ? options_.interrupted() : InterruptionSignal() != 0;
  }

  // Work is one worker thread: take the next case, run it, record it, until none is left or
  // the run is interrupted.
  void Work() {
    while (true) {
      size_t i = 0;
      {
        std::lock_guard lock(mutex_);
        if (next_ >= cases_.size() || Interrupted()) {
          stopped_ |= next_ < cases_.size();
          break;
        }
        i = next_++;
        running_[i] = true;
        ReportRunning();
      }
      const auto start = Clock::now();
      const CaseOutcome outcome = RunOne(cases_[i]);
      const double seconds = SecondsSince(start);
      CaseResult result;
      if (!outcome.status.ok() &&
          (outcome.status.code() == Status::Code::kCancelled || Interrupted())) {
        result = NotRunResult(cases_[i], options_.host, options_.shard,
                              "not run: interrupted (" + outcome.status.message() + ")");
        result.seconds = seconds;
        result.stdout_tail = outcome.stdout_tail;
        result.stderr_tail = outcome.stderr_tail;
      } else {
        result = JudgeCase(cases_[i], outcome, seconds, options_.host, options_.shard);
      }
      std::lock_guard lock(mutex_);
      results_[i] = std::move(result);
      running_[i] = false;
      ++done_;
      if (progress_ != nullptr) progress_->CaseFinished(done_, cases_.size(), results_[i]);
      ReportRunning();
    }
    std::lock_guard lock(mutex_);
    ++workers_finished_;
    finished_.notify_all();
  }

  // Wait returns when `workers` workers have finished, redrawing the status line meanwhile.
  void Wait(size_t workers) {
    std::unique_lock lock(mutex_);
    while (workers_finished_ < workers) {
      finished_.wait_for(lock, std::chrono::seconds(1));
      ReportRunning();
    }
    if (progress_ != nullptr) progress_->Done();
  }

  std::vector<CaseResult> TakeResults() { return std::move(results_); }
  bool stopped() const { return stopped_; }

 private:
  // RunOne keeps an executor's exception (an allocation failure) in its case: a worker thread
  // that let it out would end the process.
  CaseOutcome RunOne(const CampaignCase& c) {
    try {
      return executor_->Run(c);
    } catch (const std::exception& e) {
      CaseOutcome outcome;
      outcome.status = Status::FailedPrecondition(std::string("internal error: ") + e.what());
      return outcome;
    }
  }

  // ReportRunning tells progress what runs now (the lock is held).
  void ReportRunning() {
    if (progress_ == nullptr) return;
    std::vector<std::string> ids;
    for (size_t i = 0; i < cases_.size(); ++i) {
      if (running_[i]) ids.push_back(cases_[i].id);
    }
    progress_->Running(done_, cases_.size(), ids, SecondsSince(start_));
  }

  const std::vector<CampaignCase>& cases_;
  const RunnerOptions& options_;
  CaseExecutor* executor_;
  RunnerProgress* progress_;
  const Clock::time_point start_ = Clock::now();

  std::mutex mutex_;
  std::condition_variable finished_;
  std::vector<CaseResult> results_;
  std::vector<bool> running_;
  size_t next_ = 0;
  size_t done_ = 0;
  size_t workers_finished_ = 0;
  bool stopped_ = false;
};

}  // namespace

void OutputTail::Append(std::string* buffer, std::string_view bytes) {
  if (bytes.size() >= limit_) {
    buffer->assign(bytes.substr(bytes.size() - limit_));
    return;
  }
  buffer->append(bytes);
  // Trim in batches: erasing the front on every write would be quadratic.
  if (buffer->size() > 2 * limit_) buffer->erase(0, buffer->size() - limit_);
}

std::string OutputTail::Tail(const std::string& buffer) const {
  return buffer.size() <= limit_ ? buffer : buffer.substr(buffer.size() - limit_);
}

void TextProgress::ClearStatus() {
  if (!status_.empty()) Write(stream_, "\r\033[K");
  status_.clear();
}

void TextProgress::CaseFinished(size_t done, size_t total, const CaseResult& r) {
  std::string line = "nvlab campaign: [" + std::to_string(done) + "/" + std::to_string(total) +
                     "] " + CaseStatusName(r.status) + " " + EscapeUntrusted(r.id) + " (" +
                     OneDecimal(r.seconds) + " s)";
  if (r.status != CaseStatus::kPass && !r.message.empty()) {
    line += ": " + FirstLine(r.message, 200);
  }
  ClearStatus();
  Write(stream_, line + "\n");
}

void TextProgress::Running(size_t done, size_t total, const std::vector<std::string>& ids,
                           double elapsed_seconds) {
  if (!terminal_) return;
  const auto elapsed = static_cast<long>(elapsed_seconds);
  std::string line = "nvlab campaign: " + std::to_string(done) + "/" + std::to_string(total) +
                     " done, " + std::to_string(elapsed / 60) + "m" +
                     (elapsed % 60 < 10 ? "0" : "") + std::to_string(elapsed % 60) + "s";
  if (!ids.empty()) {
    line += ", running:";
    for (const std::string& id : ids) line += " " + EscapeUntrusted(id);
  }
  if (line.size() > columns_ - 1) line = line.substr(0, columns_ - 4) + "...";
  if (line == status_) return;
  Write(stream_, "\r\033[K" + line);
  status_ = line;
}

void TextProgress::Done() {
  ClearStatus();
}

CaseResult NotRunResult(const CampaignCase& c, const std::string& host, int shard,
                        std::string message) {
  CaseResult r;
  r.index = c.index;
  r.id = c.id;
  r.test = c.test;
  r.machine = c.machine;
  r.persistence = c.persistence;
  r.on_cut = c.on_cut;
  r.shard = shard;
  r.host = host;
  r.status = CaseStatus::kNotRun;
  r.expected = c.expect;
  r.expected_before = c.expect_before;
  r.message = Bounded(std::move(message), kMessageBytes);
  return r;
}

CaseResult JudgeCase(const CampaignCase& c, const CaseOutcome& outcome, double seconds,
                     const std::string& host, int shard) {
  CaseResult r = NotRunResult(c, host, shard, "");
  r.seconds = seconds;
  r.ran_on = {host};
  r.before_exit = outcome.before_exit;
  r.after_exit = outcome.after_exit;
  r.lost_lines = outcome.lost_lines;
  r.stdout_tail = outcome.stdout_tail;
  r.stderr_tail = outcome.stderr_tail;
  if (!outcome.status.ok()) {
    r.status = CaseStatus::kError;
    r.message = Bounded(outcome.status.message(), kMessageBytes);
    return r;
  }
  std::string problems;
  auto add = [&problems](const std::string& problem) {
    problems += (problems.empty() ? "" : "; ") + problem;
  };
  if (c.expect_before) {
    const std::string expected = "expected exit " + std::to_string(*c.expect_before);
    if (outcome.before_cut_power) {
      add("before cut the power itself, " + expected);
    } else if (!outcome.before_exit) {
      add("before has no exit status, " + expected);
    } else if (*outcome.before_exit != *c.expect_before) {
      add("before exited " + std::to_string(*outcome.before_exit) + ", " + expected);
    }
  }
  const std::string expected = "expected exit " + std::to_string(c.expect);
  if (outcome.after_cut_power) {
    add("after cut the power itself, " + expected);
  } else if (!outcome.after_exit) {
    add("after has no exit status, " + expected);
  } else if (*outcome.after_exit != c.expect) {
    add("after exited " + std::to_string(*outcome.after_exit) + ", " + expected);
  }
  r.status = problems.empty() ? CaseStatus::kPass : CaseStatus::kFail;
  r.message = problems;
  return r;
}

std::vector<CaseResult> RunCases(const std::vector<CampaignCase>& cases,
                                 const RunnerOptions& options, CaseExecutor* executor,
                                 RunnerProgress* progress, bool* interrupted) {
  CaseQueue queue(cases, options, executor, progress);
  const size_t jobs =
      std::min<size_t>(cases.size(), static_cast<size_t>(std::clamp(options.jobs, 1, kMaxJobs)));
  std::vector<std::thread> workers;
  workers.reserve(jobs);
  for (size_t i = 0; i < jobs; ++i) {
    try {
      workers.emplace_back([&queue] { queue.Work(); });
    } catch (const std::system_error&) {
      break;  // no more threads: run with those there are
    }
  }
  if (workers.empty() && !cases.empty()) {
    queue.Work();
    queue.Wait(1);
  } else {
    queue.Wait(workers.size());
  }
  for (std::thread& worker : workers) worker.join();
  if (interrupted != nullptr) *interrupted = queue.stopped() || queue.Interrupted();
  return queue.TakeResults();
}

}  // namespace nvlab::campaign
