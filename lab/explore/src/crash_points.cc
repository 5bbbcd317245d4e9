// crash_points.cc -- the --crash-points grammar and the crash points of a recording.
#include "nvlab/explore/crash_points.h"

#include <algorithm>
#include <set>
#include <string>

#include "nvlab/explore/seeded_random.h"

namespace nvlab::explore {
namespace {

// ParseNumber -- (internal) a non-empty run of decimal digits that fits 64 bits.
bool ParseNumber(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (~uint64_t{0} - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

Status Bad(std::string_view text, const std::string& why) {
  return Status::InvalidArgument("crash points '" + std::string(text) + "': " + why +
                                 " (expected fences, end, every:N, sample:N or a list of "
                                 "event indexes and end)");
}

}  // namespace

Status ParseCrashPointSpec(std::string_view text, CrashPointSpec* out) {
  CrashPointSpec spec;
  if (text == "fences") {
    spec.kind = CrashPointSpec::Kind::kFences;
  } else if (text == "end") {
    spec.kind = CrashPointSpec::Kind::kEnd;
  } else if (text.starts_with("every:") || text.starts_with("sample:")) {
    const bool every = text.starts_with("every:");
    spec.kind = every ? CrashPointSpec::Kind::kEvery : CrashPointSpec::Kind::kSample;
    const std::string_view number = text.substr(text.find(':') + 1);
    if (!ParseNumber(number, &spec.n)) return Bad(text, "N must be an unsigned decimal number");
    if (spec.n == 0) return Bad(text, "N must be at least 1");
  } else {
    spec.kind = CrashPointSpec::Kind::kList;
    size_t start = 0;
    while (true) {
      const size_t comma = text.find(',', start);
      const std::string_view item = text.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      uint64_t index = 0;
      if (item == "end") {
        spec.list.push_back(CrashPointSpec::kEndOfRecording);
      } else if (ParseNumber(item, &index) && index != CrashPointSpec::kEndOfRecording) {
        spec.list.push_back(index);
      } else {
        return Bad(text, item.empty() ? "an empty item"
                                      : "'" + std::string(item) + "' is not an event index");
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  *out = std::move(spec);
  return Status::Ok();
}

std::vector<uint64_t> FenceCrashPoints(const Recording& recording) {
  std::vector<uint64_t> points;
  std::vector<uint64_t> pending;  // Per vCPU: write-backs and NT stores no fence ordered.
  bool stored_since_wbinvd = false;
  for (uint64_t i = 0; i < recording.events.size(); ++i) {
    const RecordedEvent& e = recording.events[i];
    if (e.cpu >= pending.size()) pending.resize(e.cpu + 1, 0);
    switch (e.kind) {
      case EventKind::kStore:
        if (e.non_temporal) {
          ++pending[e.cpu];
        } else {
          stored_since_wbinvd = true;
        }
        break;
      case EventKind::kFlush:
        if (e.flush != FlushKind::kClflush) ++pending[e.cpu];
        break;
      case EventKind::kFence:
        if (pending[e.cpu] != 0) points.push_back(i);
        pending[e.cpu] = 0;
        break;
      case EventKind::kWbinvd:
        if (pending[e.cpu] != 0 || stored_since_wbinvd) points.push_back(i);
        pending[e.cpu] = 0;
        stored_since_wbinvd = false;
        break;
    }
  }
  points.push_back(recording.events.size());
  return points;
}

Status ResolveCrashPoints(const CrashPointSpec& spec, const Recording& recording, uint64_t seed,
                          std::vector<uint64_t>* out) {
  const uint64_t count = recording.events.size();
  std::set<uint64_t> points;
  switch (spec.kind) {
    case CrashPointSpec::Kind::kFences:
      *out = FenceCrashPoints(recording);
      return Status::Ok();
    case CrashPointSpec::Kind::kEnd:
      points.insert(count);
      break;
    case CrashPointSpec::Kind::kEvery:
      for (uint64_t k = spec.n; k <= count && k >= spec.n; k += spec.n) points.insert(k);
      points.insert(count);
      break;
    case CrashPointSpec::Kind::kSample:
      if (count == 0 || spec.n >= count) {
        for (uint64_t k = count == 0 ? 0 : 1; k <= count; ++k) points.insert(k);
      } else {
        // Floyd's algorithm over 1..count: spec.n distinct points, each equally likely.
        SeededRandom random(seed);
        for (uint64_t j = count - spec.n; j < count; ++j) {
          const uint64_t t = random.Below(j + 1) + 1;
          if (!points.insert(t).second) points.insert(j + 1);
        }
      }
      break;
    case CrashPointSpec::Kind::kList:
      for (uint64_t index : spec.list) {
        if (index == CrashPointSpec::kEndOfRecording) {
          points.insert(count);
        } else if (index > count) {
          return Status::InvalidArgument("crash point " + std::to_string(index) +
                                         " is past the recording's " + std::to_string(count) +
                                         " events");
        } else {
          points.insert(index);
        }
      }
      break;
  }
  out->assign(points.begin(), points.end());
  return Status::Ok();
}

}  // namespace nvlab::explore
