// campaign_report.cc -- campaign reports: JSON out, strict JSON in, merging shards.
//
// nlohmann's exceptions stay in this file: parsing catches them at the boundary, and the reader
// checks each value's type before it converts it, so a hostile report is an error message.

#include "nvlab/campaign/campaign_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "nvlab/campaign/campaign_file.h"
#include "nvlab/file_contents.h"
#include "nvlab/untrusted_text.h"

namespace nvlab::campaign {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxShards = 10000;

// Milliseconds: a report's times need no more, and short numbers read better.
double RoundSeconds(double seconds) {
  return std::isfinite(seconds) ? std::round(seconds * 1000) / 1000 : 0;
}

template <typename T>
Json OrNull(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json CaseJson(const CaseResult& c) {
  Json j;
  j["index"] = c.index;
  j["id"] = c.id;
  j["test"] = c.test;
  j["machine"] = c.machine;
  j["persistence"] = c.persistence;
  j["on_cut"] = c.on_cut;
  j["shard"] = c.shard;
  j["host"] = c.host;
  j["ran_on"] = c.ran_on;
  j["status"] = CaseStatusName(c.status);
  j["expected"] = c.expected;
  j["expected_before"] = OrNull(c.expected_before);
  j["before_exit"] = OrNull(c.before_exit);
  j["after_exit"] = OrNull(c.after_exit);
  j["lost_lines"] = OrNull(c.lost_lines);
  j["seconds"] = RoundSeconds(c.seconds);
  j["message"] = c.message;
  j["stdout_tail"] = c.stdout_tail;
  j["stderr_tail"] = c.stderr_tail;
  return j;
}

// Reader checks one report's values, naming the file and the place in every error.
class Reader {
 public:
  explicit Reader(std::string_view name) : name_(name) {}

  Status Error(const std::string& where, const std::string& problem) const {
    return Status::InvalidArgument(name_ + ": " + where + ": " + problem);
  }

  // Find is j[key], or nullptr when j has no such key.
  static const Json* Find(const Json& j, const char* key) {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  }

  Status Missing(const std::string& where, const char* key) const {
    return Error(where, std::string("missing \"") + key + "\"");
  }

  Status String(const Json& j, const std::string& where, const char* key, std::string* out) const {
    const Json* v = Find(j, key);
    if (v == nullptr) return Missing(where, key);
    if (!v->is_string()) return Error(where, std::string("\"") + key + "\" is not a string");
    *out = v->get<std::string>();
    return Status::Ok();
  }

  template <typename T>
  Status Integer(const Json& v, const std::string& where, const char* key, int64_t min,
                 uint64_t max, T* out) const {
    bool ok = false;
    if (v.is_number_unsigned()) {
      const auto value = v.get<uint64_t>();
      ok = value <= max && (min <= 0 || value >= static_cast<uint64_t>(min));
      if (ok) *out = static_cast<T>(value);
    } else if (v.is_number_integer()) {
      const auto value = v.get<int64_t>();
      ok = value >= min && (value < 0 || static_cast<uint64_t>(value) <= max);
      if (ok) *out = static_cast<T>(value);
    }
    if (!ok) {
      return Error(where, std::string("\"") + key + "\" is not an integer from " +
                              std::to_string(min) + " to " + std::to_string(max));
    }
    return Status::Ok();
  }

  template <typename T>
  Status IntegerField(const Json& j, const std::string& where, const char* key, int64_t min,
                      uint64_t max, T* out) const {
    const Json* v = Find(j, key);
    if (v == nullptr) return Missing(where, key);
    return Integer(*v, where, key, min, max, out);
  }

  template <typename T>
  Status OptionalInteger(const Json& j, const std::string& where, const char* key, int64_t min,
                         uint64_t max, std::optional<T>* out) const {
    const Json* v = Find(j, key);
    if (v == nullptr) return Missing(where, key);
    if (v->is_null()) {
      out->reset();
      return Status::Ok();
    }
    T value{};
    NVLAB_RETURN_IF_ERROR(Integer(*v, where, key, min, max, &value));
    *out = value;
    return Status::Ok();
  }

  Status Seconds(const Json& j, const std::string& where, double* out) const {
    const Json* v = Find(j, "seconds");
    if (v == nullptr) return Missing(where, "seconds");
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < 0) {
      return Error(where, "\"seconds\" is not a number of seconds");
    }
    *out = v->get<double>();
    return Status::Ok();
  }

  // Array is j[key] when it is an array; else nullptr, with *error saying why.
  const Json* Array(const Json& j, const std::string& where, const char* key, Status* error) const {
    const Json* v = Find(j, key);
    if (v == nullptr) {
      *error = Missing(where, key);
    } else if (!v->is_array()) {
      *error = Error(where, std::string("\"") + key + "\" is not an array");
      v = nullptr;
    }
    return v;
  }

  Status Shard(const Json& j, const std::string& where, ShardRun* out) const {
    if (!j.is_object()) return Error(where, "not an object");
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "of", 1, kMaxShards, &out->of));
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "shard", 1, out->of, &out->shard));
    NVLAB_RETURN_IF_ERROR(String(j, where, "host", &out->host));
    NVLAB_RETURN_IF_ERROR(String(j, where, "started", &out->started));
    return Seconds(j, where, &out->seconds);
  }

  Status Case(const Json& j, const std::string& where, size_t cases_total, CaseResult* c) const {
    if (!j.is_object()) return Error(where, "not an object");
    NVLAB_RETURN_IF_ERROR(
        IntegerField(j, where, "index", 0, cases_total == 0 ? 0 : cases_total - 1, &c->index));
    if (cases_total == 0) return Error(where, "a case in a campaign of no cases");
    NVLAB_RETURN_IF_ERROR(String(j, where, "id", &c->id));
    NVLAB_RETURN_IF_ERROR(String(j, where, "test", &c->test));
    NVLAB_RETURN_IF_ERROR(String(j, where, "machine", &c->machine));
    NVLAB_RETURN_IF_ERROR(String(j, where, "persistence", &c->persistence));
    NVLAB_RETURN_IF_ERROR(String(j, where, "on_cut", &c->on_cut));
    if (c->id != c->test + "/" + c->machine + "/" + c->persistence + "/" + c->on_cut) {
      return Error(where, "\"id\" is not test/machine/persistence/on_cut");
    }
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "shard", 1, kMaxShards, &c->shard));
    NVLAB_RETURN_IF_ERROR(String(j, where, "host", &c->host));
    Status error;
    const Json* ran_on = Array(j, where, "ran_on", &error);
    if (ran_on == nullptr) return error;
    c->ran_on.clear();
    for (const Json& host : *ran_on) {
      if (!host.is_string()) return Error(where, "\"ran_on\" holds a non-string");
      c->ran_on.push_back(host.get<std::string>());
    }
    std::string status;
    NVLAB_RETURN_IF_ERROR(String(j, where, "status", &status));
    if (!ParseCaseStatus(status, &c->status)) {
      return Error(where, "\"status\" is '" + EscapeUntrusted(status) +
                              "', not pass, fail, error or not-run");
    }
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "expected", 0, 255, &c->expected));
    NVLAB_RETURN_IF_ERROR(
        OptionalInteger(j, where, "expected_before", 0, 255, &c->expected_before));
    NVLAB_RETURN_IF_ERROR(OptionalInteger(j, where, "before_exit", 0, 255, &c->before_exit));
    NVLAB_RETURN_IF_ERROR(OptionalInteger(j, where, "after_exit", 0, 255, &c->after_exit));
    NVLAB_RETURN_IF_ERROR(OptionalInteger(j, where, "lost_lines", 0, UINT64_MAX, &c->lost_lines));
    NVLAB_RETURN_IF_ERROR(Seconds(j, where, &c->seconds));
    NVLAB_RETURN_IF_ERROR(String(j, where, "message", &c->message));
    NVLAB_RETURN_IF_ERROR(String(j, where, "stdout_tail", &c->stdout_tail));
    return String(j, where, "stderr_tail", &c->stderr_tail);
  }

  Status Summary(const Json& j, const ReportSummary& expected) const {
    const std::string where = "summary";
    if (!j.is_object()) return Error(where, "not an object");
    ReportSummary s;
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "passed", 0, kMaxCases, &s.passed));
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "failed", 0, kMaxCases, &s.failed));
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "errors", 0, kMaxCases, &s.errors));
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "not_run", 0, kMaxCases, &s.not_run));
    NVLAB_RETURN_IF_ERROR(IntegerField(j, where, "missing", 0, kMaxCases, &s.missing));
    if (s.passed != expected.passed || s.failed != expected.failed || s.errors != expected.errors ||
        s.not_run != expected.not_run || s.missing != expected.missing) {
      return Error(where, "does not agree with the cases");
    }
    return Status::Ok();
  }

  Status Report(const Json& j, CampaignReport* r) const {
    if (!j.is_object()) return Error("top level", "not a JSON object");
    std::string format;
    NVLAB_RETURN_IF_ERROR(String(j, "top level", "format", &format));
    if (format != kReportFormat) {
      return Error("format",
                   "'" + EscapeUntrusted(format) + "' is not " + std::string(kReportFormat));
    }
    int version = 0;
    NVLAB_RETURN_IF_ERROR(IntegerField(j, "top level", "version", 0, INT32_MAX, &version));
    if (version != kReportVersion) {
      return Error("version", std::to_string(version) + " (this nvlab reads version " +
                                  std::to_string(kReportVersion) + ")");
    }
    NVLAB_RETURN_IF_ERROR(String(j, "top level", "campaign", &r->campaign));
    if (!IsCampaignName(r->campaign)) return Error("campaign", "not a campaign name");
    NVLAB_RETURN_IF_ERROR(String(j, "top level", "campaign_sha256", &r->campaign_sha256));
    if (r->campaign_sha256.size() != 64 ||
        r->campaign_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return Error("campaign_sha256", "not 64 lowercase hex digits");
    }
    NVLAB_RETURN_IF_ERROR(
        IntegerField(j, "top level", "cases_total", 0, kMaxCases, &r->cases_total));

    Status error;
    const Json* shards = Array(j, "top level", "shards", &error);
    if (shards == nullptr) return error;
    if (shards->empty()) return Error("shards", "empty");
    for (size_t i = 0; i < shards->size(); ++i) {
      ShardRun shard;
      NVLAB_RETURN_IF_ERROR(Shard((*shards)[i], "shards[" + std::to_string(i) + "]", &shard));
      if (!r->shards.empty() && shard.of != r->shards.front().of) {
        return Error("shards[" + std::to_string(i) + "]", "\"of\" differs from shards[0]'s");
      }
      r->shards.push_back(std::move(shard));
    }
    const int count = r->ShardCount();
    std::set<int> listed;
    for (const ShardRun& s : r->shards) listed.insert(s.shard);

    const Json* missing = Array(j, "top level", "missing_shards", &error);
    if (missing == nullptr) return error;
    for (const Json& m : *missing) {
      int shard = 0;
      NVLAB_RETURN_IF_ERROR(
          Integer(m, "missing_shards", "missing_shards", 1, static_cast<uint64_t>(count), &shard));
      if (listed.count(shard) != 0) return Error("missing_shards", "lists a shard that ran");
      r->missing_shards.push_back(shard);
    }

    const Json* cases = Array(j, "top level", "cases", &error);
    if (cases == nullptr) return error;
    for (size_t i = 0; i < cases->size(); ++i) {
      const std::string where = "cases[" + std::to_string(i) + "]";
      CaseResult c;
      NVLAB_RETURN_IF_ERROR(Case((*cases)[i], where, r->cases_total, &c));
      if (!r->cases.empty() && c.index <= r->cases.back().index) {
        return Error(where, "\"index\" is not after the previous case's (cases are in order)");
      }
      if (c.shard != ShardOf(c.index, count)) {
        return Error(where, "case " + std::to_string(c.index) + " is not of shard " +
                                std::to_string(c.shard) + " of " + std::to_string(count));
      }
      if (listed.count(c.shard) == 0) {
        return Error(where, "shard " + std::to_string(c.shard) + " is not in \"shards\"");
      }
      r->cases.push_back(std::move(c));
    }
    const Json* summary = Find(j, "summary");
    if (summary == nullptr) return Missing("top level", "summary");
    return Summary(*summary, r->Summary());
  }

 private:
  std::string name_;
};

// CasesOfShards counts the cases of a campaign of `total` cases that fall in `shards`.
size_t CasesOfShards(size_t total, int count, const std::vector<int>& shards) {
  size_t n = 0;
  for (int shard : shards) {
    if (static_cast<size_t>(shard) <= total) {
      n += (total - static_cast<size_t>(shard)) / static_cast<size_t>(count) + 1;
    }
  }
  return n;
}

bool Finished(CaseStatus status) {
  return status != CaseStatus::kNotRun;
}

}  // namespace

bool IsHostName(std::string_view text) {
  if (text.empty() || text.size() > kMaxHostNameBytes) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c <= '~'; });
}

const char* CaseStatusName(CaseStatus status) {
  switch (status) {
    case CaseStatus::kPass:
      return "pass";
    case CaseStatus::kFail:
      return "fail";
    case CaseStatus::kError:
      return "error";
    case CaseStatus::kNotRun:
      return "not-run";
  }
  return "?";
}

bool ParseCaseStatus(std::string_view text, CaseStatus* out) {
  for (CaseStatus s :
       {CaseStatus::kPass, CaseStatus::kFail, CaseStatus::kError, CaseStatus::kNotRun}) {
    if (text == CaseStatusName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

ReportSummary CampaignReport::Summary() const {
  ReportSummary s;
  for (const CaseResult& c : cases) {
    switch (c.status) {
      case CaseStatus::kPass:
        ++s.passed;
        break;
      case CaseStatus::kFail:
        ++s.failed;
        break;
      case CaseStatus::kError:
        ++s.errors;
        break;
      case CaseStatus::kNotRun:
        ++s.not_run;
        break;
    }
  }
  s.missing = CasesOfShards(cases_total, ShardCount(), missing_shards);
  return s;
}

std::string ReportJson(const CampaignReport& report) {
  Json j;
  j["format"] = kReportFormat;
  j["version"] = kReportVersion;
  j["campaign"] = report.campaign;
  j["campaign_sha256"] = report.campaign_sha256;
  j["cases_total"] = report.cases_total;
  j["shards"] = Json::array();
  for (const ShardRun& s : report.shards) {
    j["shards"].push_back({{"shard", s.shard},
                           {"of", s.of},
                           {"host", s.host},
                           {"started", s.started},
                           {"seconds", RoundSeconds(s.seconds)}});
  }
  j["missing_shards"] = report.missing_shards;
  j["cases"] = Json::array();
  for (const CaseResult& c : report.cases) j["cases"].push_back(CaseJson(c));
  const ReportSummary s = report.Summary();
  j["summary"] = {{"passed", s.passed},
                  {"failed", s.failed},
                  {"errors", s.errors},
                  {"not_run", s.not_run},
                  {"missing", s.missing}};
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Status ParseReport(std::string_view text, std::string_view name, CampaignReport* out) {
  const Reader reader(name);
  if (text.size() > kMaxReportBytes) return reader.Error("file", "larger than 1 GiB");
  CampaignReport report;
  try {
    const Json j = Json::parse(text);
    NVLAB_RETURN_IF_ERROR(reader.Report(j, &report));
  } catch (const nlohmann::json::exception& e) {
    return reader.Error("not JSON", EscapeUntrusted(e.what()));
  }
  *out = std::move(report);
  return Status::Ok();
}

Status ReadReportFile(const std::filesystem::path& file, CampaignReport* out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound("cannot read campaign report " + file.string());
  std::string text;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxReportBytes) {
      return Status::InvalidArgument(file.string() + ": larger than 1 GiB");
    }
  }
  if (in.bad()) return Status::IoError("cannot read campaign report " + file.string());
  return ParseReport(text, file.string(), out);
}

Status WriteReportFile(const std::filesystem::path& file, std::string_view text) {
  return WriteFileAtomically(file, text);
}

Status MergeReports(const std::vector<CampaignReport>& inputs,
                    const std::vector<std::string>& names, bool allow_missing,
                    CampaignReport* out) {
  if (inputs.empty() || names.size() != inputs.size()) {
    return Status::InvalidArgument("nothing to merge: no shard reports given");
  }
  const CampaignReport& first = inputs.front();
  const int count = first.ShardCount();
  for (size_t i = 1; i < inputs.size(); ++i) {
    const CampaignReport& r = inputs[i];
    const std::string against = " (" + names.front() + " has ";
    if (r.campaign != first.campaign) {
      return Status::InvalidArgument(names[i] + ": campaign '" + r.campaign + "'" + against + "'" +
                                     first.campaign + "')");
    }
    if (r.campaign_sha256 != first.campaign_sha256) {
      return Status::InvalidArgument(names[i] + ": campaign_sha256 " + r.campaign_sha256 + against +
                                     first.campaign_sha256 +
                                     "): the shards ran different campaign files");
    }
    if (r.ShardCount() != count) {
      return Status::InvalidArgument(names[i] + ": " + std::to_string(r.ShardCount()) + " shards" +
                                     against + std::to_string(count) + ")");
    }
    if (r.cases_total != first.cases_total) {
      return Status::InvalidArgument(names[i] + ": cases_total " + std::to_string(r.cases_total) +
                                     against + std::to_string(first.cases_total) + ")");
    }
  }

  CampaignReport merged;
  merged.campaign = first.campaign;
  merged.campaign_sha256 = first.campaign_sha256;
  merged.cases_total = first.cases_total;
  std::set<int> present;
  for (const CampaignReport& r : inputs) {
    for (const ShardRun& s : r.shards) {
      merged.shards.push_back(s);
      present.insert(s.shard);
    }
  }
  std::stable_sort(merged.shards.begin(), merged.shards.end(),
                   [](const ShardRun& a, const ShardRun& b) { return a.shard < b.shard; });
  for (int shard = 1; shard <= count; ++shard) {
    if (present.count(shard) == 0) merged.missing_shards.push_back(shard);
  }
  if (!merged.missing_shards.empty() && !allow_missing) {
    std::string list;
    for (int shard : merged.missing_shards) {
      list += (list.empty() ? "" : ", ") + std::to_string(shard);
    }
    return Status::InvalidArgument(
        std::string(merged.missing_shards.size() == 1 ? "shard " : "shards ") + list + " of " +
        std::to_string(count) + " missing: no report given holds " +
        (merged.missing_shards.size() == 1 ? "it (run it" : "them (run them") +
        ", or merge with --allow-missing)");
  }

  // index -> the case kept so far, and the input it came from.
  std::map<size_t, std::pair<CaseResult, size_t>> cases;
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (const CaseResult& c : inputs[i].cases) {
      auto it = cases.find(c.index);
      if (it == cases.end()) {
        cases.emplace(c.index, std::make_pair(c, i));
        continue;
      }
      CaseResult& kept = it->second.first;
      if (kept.id != c.id) {
        return Status::InvalidArgument(
            names[i] + ": case " + std::to_string(c.index) + " is '" + EscapeUntrusted(c.id) +
            "' but '" + EscapeUntrusted(kept.id) + "' in " + names[it->second.second]);
      }
      std::vector<std::string> ran_on = kept.ran_on;
      for (const std::string& host : c.ran_on) {
        if (std::find(ran_on.begin(), ran_on.end(), host) == ran_on.end()) {
          ran_on.push_back(host);
        }
      }
      if (Finished(c.status) || !Finished(kept.status)) it->second = std::make_pair(c, i);
      it->second.first.ran_on = std::move(ran_on);
    }
  }
  for (size_t index = 0; index < merged.cases_total; ++index) {
    const int shard = ShardOf(index, count);
    if (present.count(shard) != 0 && cases.count(index) == 0) {
      return Status::InvalidArgument("case " + std::to_string(index) + " of shard " +
                                     std::to_string(shard) +
                                     " is in no report, though the shard ran");
    }
  }
  for (auto& [index, kept] : cases) merged.cases.push_back(std::move(kept.first));
  *out = std::move(merged);
  return Status::Ok();
}

std::string SummaryLine(const ReportSummary& s, double seconds) {
  char time[32];
  (void)std::snprintf(time, sizeof time, "%.1f", std::isfinite(seconds) ? seconds : 0.0);
  std::string line = std::to_string(s.passed) + " passed, " + std::to_string(s.failed) +
                     " failed, " + std::to_string(s.errors) + " errors, " +
                     std::to_string(s.not_run) + " not run";
  if (s.missing > 0) line += ", " + std::to_string(s.missing) + " missing";
  return line + " in " + time + " s";
}

std::string IsoTimeUtc(int64_t seconds_since_epoch) {
  const auto t = static_cast<std::time_t>(seconds_since_epoch);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "1970-01-01T00:00:00Z";
  char text[32];
  (void)std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace nvlab::campaign
