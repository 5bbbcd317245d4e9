// File: nvlab/campaign/campaign_report.h
//
// The report of a campaign run (docs/formats/campaign-report.md): which cases passed, failed,
// erred or did not run, with the exit statuses, the cut's lost lines and the tails of the guest's
// output. One host running one shard writes one report; MergeReports joins the shard reports of a
// fleet into the report a single host would have written, case by case.
//
// Life cycle: the runner fills a CampaignReport (one CaseResult per case of its shard, in
// expansion order), ReportJson serializes it, WriteReportFile writes it atomically. `nvlab
// campaign merge` reads reports back with ParseReport (strictly: anything malformed is an error
// naming the file) and merges them.
//
// Everything a guest printed is untrusted: it is kept as bytes here, bounded by the runner
// (kOutputTailBytes), and the JSON writer replaces invalid UTF-8 (it never throws on it).
//
// Thread-safety: plain values and pure functions.

#ifndef NVLAB_CAMPAIGN_CAMPAIGN_REPORT_H_
#define NVLAB_CAMPAIGN_CAMPAIGN_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::campaign {

inline constexpr std::string_view kReportFormat = "nvlab-campaign-report";
inline constexpr int kReportVersion = 1;
// kOutputTailBytes: how much of each of a case's stdout and stderr a report keeps (the end).
inline constexpr size_t kOutputTailBytes = size_t{64} * 1024;
// kMessageBytes bounds a case's message (nvlab's error can carry a console tail).
inline constexpr size_t kMessageBytes = size_t{16} * 1024;
// kMaxReportBytes bounds a report ParseReport accepts.
inline constexpr size_t kMaxReportBytes = 1024ull << 20;
// kMaxHostNameBytes bounds a host name `nvlab campaign --host` accepts (Linux's HOST_NAME_MAX).
inline constexpr size_t kMaxHostNameBytes = 64;

enum class CaseStatus { kPass, kFail, kError, kNotRun };

// IsHostName says whether text can name the host a shard runs on (`nvlab campaign --host`): 1 to
// kMaxHostNameBytes bytes of printable ASCII without spaces ('!' to '~'). So a name stays one
// word in progress lines and is the same bytes in every report, whatever a fleet's inventory
// calls its hosts (DNS names, IP addresses, Ansible's inventory_hostname).
bool IsHostName(std::string_view text);

// CaseStatusName returns "pass", "fail", "error" or "not-run".
const char* CaseStatusName(CaseStatus status);
bool ParseCaseStatus(std::string_view text, CaseStatus* out);

// CaseResult is one case of a report.
struct CaseResult {
  size_t index = 0;  // in expansion order over all shards
  std::string id;    // test/machine/persistence/on_cut
  std::string test;
  std::string machine;
  std::string persistence;
  std::string on_cut;
  int shard = 1;
  std::string host;  // where it ran (or was to run)
  CaseStatus status = CaseStatus::kNotRun;
  int expected = 0;                    // expect: the after command's expected status
  std::optional<int> expected_before;  // expect-before, when the test gives one
  std::optional<int> before_exit;      // null: did not run, or cut the power itself
  std::optional<int> after_exit;
  std::optional<uint64_t> lost_lines;  // the cut report's total, null without one
  double seconds = 0;
  std::string message;  // why it failed, erred or did not run; "" when it passed
  std::string stdout_tail;
  std::string stderr_tail;
  // ran_on: in a merged report, every host that ran the case (not-run entries excluded), in
  // input order; empty in a shard's own report.
  std::vector<std::string> ran_on;
};

// ShardRun is one shard's run: which shard, where, when, how long.
struct ShardRun {
  int shard = 1;
  int of = 1;
  std::string host;
  std::string started;  // ISO-8601 UTC, e.g. 2025-05-01T12:00:00Z
  double seconds = 0;
};

struct ReportSummary {
  size_t passed = 0;
  size_t failed = 0;
  size_t errors = 0;
  size_t not_run = 0;
  size_t missing = 0;  // cases of shards missing from a merge (--allow-missing)

  // AllPassed: every case of the campaign ran and passed (nothing missing).
  bool AllPassed() const { return failed == 0 && errors == 0 && not_run == 0 && missing == 0; }
};

struct CampaignReport {
  std::string campaign;
  std::string campaign_sha256;
  size_t cases_total = 0;  // over all shards
  std::vector<ShardRun> shards;
  std::vector<CaseResult> cases;    // in expansion order
  std::vector<int> missing_shards;  // a merge's shards that no input had (--allow-missing)

  ReportSummary Summary() const;
  // ShardCount is the N of the shards' "of" (1 without shards).
  int ShardCount() const { return shards.empty() ? 1 : shards.front().of; }
};

// ReportJson serializes the report (indented, invalid UTF-8 replaced by U+FFFD).
std::string ReportJson(const CampaignReport& report);

// ParseReport reads a report strictly; `name` (the file) starts every error message.
// InvalidArgument on anything that is not a version-1 report.
Status ParseReport(std::string_view text, std::string_view name, CampaignReport* out);

// ReadReportFile reads and parses a report file.
Status ReadReportFile(const std::filesystem::path& file, CampaignReport* out);

// WriteReportFile writes text to file atomically (a temporary beside it, renamed over it).
Status WriteReportFile(const std::filesystem::path& file, std::string_view text);

// MergeReports joins shard reports (`names` name them in errors, one per report). They must be
// of the same campaign (name and sha256) and shard count. A case in several inputs (a shard run
// again on another host) is taken from the input where it finished (pass, fail or error), else
// from the later one, and ran_on lists every host that ran it. A shard no input holds is an
// error naming it, unless allow_missing: then it is listed in missing_shards.
Status MergeReports(const std::vector<CampaignReport>& inputs,
                    const std::vector<std::string>& names, bool allow_missing, CampaignReport* out);

// SummaryLine is "N passed, F failed, E errors, S not run[, M missing] in T s" (no prefix, no
// newline).
std::string SummaryLine(const ReportSummary& summary, double seconds);

// IsoTimeUtc formats a time_t as "YYYY-MM-DDTHH:MM:SSZ".
std::string IsoTimeUtc(int64_t seconds_since_epoch);

}  // namespace nvlab::campaign

#endif  // NVLAB_CAMPAIGN_CAMPAIGN_REPORT_H_
