// exploration_report.cc -- the summary line, the failure text, JSON and JUnit XML.

#include "nvlab/exploration/exploration_report.h"

#include <cstdio>
#include <map>
#include <vector>

#include "nvlab/campaign/junit_report.h"
#include "nvlab/hex.h"
#include "nvlab/shell_words.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

using explore::StateCount;

std::string Seconds(double s) {
  char buf[32];
  (void)std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

// PcText is "PC 0x..." with the function behind it when known: "PC 0x401a2c <main+0x1c>".
std::string PcText(uint64_t pc, const std::string& symbol) {
  return "PC " + FormatHex(pc) + (symbol.empty() ? "" : " <" + EscapeUntrusted(symbol) + ">");
}

std::string PointName(const ExplorationFailure& f) {
  return f.at_end ? std::string("end")
                  : "before event " + std::to_string(f.crash_point) + " (" +
                        PcText(f.fence_pc, f.fence_symbol) + ")";
}

std::string MissedText(const MissedWrite& w) {
  std::string text = std::string(explore::ToString(w.kind)) + " at " + FormatHex(w.gpa) +
                     " (event " + std::to_string(w.event) + ", " + PcText(w.pc, w.symbol);
  if (!w.process.empty()) {
    text += ", " + EscapeUntrusted(w.process) + " pid " + std::to_string(w.pid);
  }
  return text + ")";
}

// Locate adds "nvdimm" and "offset" for gpa to a JSON object (nothing when no NVDIMM holds it).
void Locate(const std::vector<explore::RecordedNvdimm>& nvdimms, uint64_t gpa,
            nlohmann::json* object) {
  for (size_t i = 0; i < nvdimms.size(); ++i) {
    if (gpa >= nvdimms[i].base && gpa - nvdimms[i].base < nvdimms[i].size) {
      (*object)["nvdimm"] = i;
      (*object)["offset"] = gpa - nvdimms[i].base;
      return;
    }
  }
}

}  // namespace

std::string ExplorationSummaryLine(const ExplorationResult& r) {
  const StateCount explored = StateCount(r.totals.visited) + r.totals.pruned;
  return "explored " + explored.ToString() + " crash states (" + std::to_string(r.totals.distinct) +
         " distinct, " + r.totals.pruned.ToString() + " pruned) at " +
         std::to_string(r.totals.crash_points) + " crash points in " + Seconds(r.seconds) +
         " s: " + r.totals.failed_states.ToString() + " failed";
}

std::string ReplayCommand(const ExplorationFailure& failure, const std::string& check) {
  if (failure.kept_images.empty()) return "";
  std::vector<std::string> argv = {"nvlab", "run"};
  for (const auto& image : failure.kept_images) {
    argv.push_back("--nvdimm-image");
    argv.push_back(image.string());
  }
  argv.push_back("--");
  argv.push_back(check);
  return ShellCommandLine(argv);
}

std::string ExplorationText(const ExplorationResult& r) {
  std::string text;
  size_t n = 0;
  for (const ExplorationFailure& f : r.failures) {
    text += "nvlab: failure " + std::to_string(++n) + ": crash point " + PointName(f) + ", " +
            f.represented.ToString() + " state(s): the check ended with " +
            EscapeUntrusted(f.verdict) + "\n";
    for (const FailedLine& l : f.lines) {
      text += "nvlab:   line " + FormatHex(l.gpa) + ": " +
              (l.persisted ? std::string("in (every write landed)")
                           : "out (content " + std::to_string(l.candidate) + " of " +
                                 std::to_string(l.candidates) + ")") +
              "\n";
      for (const MissedWrite& w : l.missed) {
        text += "nvlab:     did not persist: " + MissedText(w) + "\n";
      }
    }
    if (!f.check_output.empty()) {
      text += "nvlab:   check output:\n";
      std::string out = EscapeUntrustedLines(f.check_output);
      size_t start = 0;
      while (start < out.size()) {
        size_t end = out.find('\n', start);
        if (end == std::string::npos) end = out.size();
        text += "nvlab:     | " + out.substr(start, end - start) + "\n";
        start = end + 1;
      }
    }
    if (const std::string replay = ReplayCommand(f, r.check); !replay.empty()) {
      text += "nvlab:   replay: " + replay + "\n";
    }
  }
  const uint64_t listed = r.failures.size();
  if (r.totals.failed_visits > listed) {
    text += "nvlab: " + std::to_string(r.totals.failed_visits - listed) +
            " more failing check(s) not listed\n";
  }
  if (!(r.totals.not_tried == StateCount(0))) {
    text += "nvlab: " + r.totals.not_tried.ToString() +
            " crash states not tried (--max-states budget)\n";
  }
  return text;
}

nlohmann::json ExplorationJson(const ExplorationResult& r) {
  nlohmann::json j;
  j["schema"] = "nvlab-explore/1";
  j["check"] = EscapeUntrusted(r.check);
  j["recorded_events"] = r.recorded_events;
  j["reused_recording"] = r.reused_recording;
  j["seconds"] = {{"total", r.seconds},
                  {"record", r.record_seconds},
                  {"explore", r.explore_seconds},
                  {"start", r.start_seconds}};
  const auto& t = r.totals;
  j["totals"] = {{"crash_points", t.crash_points},
                 {"states", t.states.ToString()},
                 {"checked", t.visited},
                 {"distinct", t.distinct},
                 {"pruned", t.pruned.ToString()},
                 {"not_tried", t.not_tried.ToString()},
                 {"failed_checks", t.failed_visits},
                 {"failed_states", t.failed_states.ToString()}};
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : r.crash_points) {
    points.push_back({{"crash_point", p.crash_point},
                      {"states", p.states.ToString()},
                      {"checked", p.visited},
                      {"distinct", p.distinct},
                      {"pruned", p.pruned.ToString()},
                      {"not_tried", p.not_tried.ToString()},
                      {"failed_states", p.failed_states.ToString()}});
  }
  j["crash_points"] = std::move(points);
  nlohmann::json failures = nlohmann::json::array();
  for (const ExplorationFailure& f : r.failures) {
    nlohmann::json lines = nlohmann::json::array();
    for (const FailedLine& l : f.lines) {
      nlohmann::json missed = nlohmann::json::array();
      for (const MissedWrite& w : l.missed) {
        nlohmann::json m = {{"event", w.event},
                            {"kind", explore::ToString(w.kind)},
                            {"address", FormatHex(w.gpa)},
                            {"pc", FormatHex(w.pc)},
                            {"pid", w.pid},
                            {"process", EscapeUntrusted(w.process)},
                            {"symbol", EscapeUntrusted(w.symbol)}};
        Locate(r.nvdimms, w.gpa, &m);
        missed.push_back(std::move(m));
      }
      nlohmann::json line = {{"address", FormatHex(l.gpa)},
                             {"candidate", l.candidate},
                             {"candidates", l.candidates},
                             {"persisted", l.persisted},
                             {"missed", std::move(missed)}};
      Locate(r.nvdimms, l.gpa, &line);
      lines.push_back(std::move(line));
    }
    nlohmann::json images = nlohmann::json::array();
    for (const auto& image : f.kept_images) images.push_back(image.string());
    failures.push_back({{"crash_point", f.crash_point},
                        {"at_end", f.at_end},
                        {"pc", FormatHex(f.fence_pc)},
                        {"process", EscapeUntrusted(f.fence_process)},
                        {"symbol", EscapeUntrusted(f.fence_symbol)},
                        {"states", f.represented.ToString()},
                        {"verdict", EscapeUntrusted(f.verdict)},
                        {"lines", std::move(lines)},
                        {"check_output", EscapeUntrustedLines(f.check_output)},
                        {"images", std::move(images)},
                        {"replay", ReplayCommand(f, r.check)}});
  }
  j["failures"] = std::move(failures);
  return j;
}

std::string ExplorationJunit(const ExplorationResult& r) {
  using campaign::XmlText;
  std::map<uint64_t, std::vector<const ExplorationFailure*>> by_point;
  for (const ExplorationFailure& f : r.failures) by_point[f.crash_point].push_back(&f);
  uint64_t failing_points = 0;
  for (const auto& p : r.crash_points) failing_points += p.failed_visits > 0 ? 1 : 0;
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += "<testsuites name=\"nvlab explore\" tests=\"" + std::to_string(r.crash_points.size()) +
         "\" failures=\"" + std::to_string(failing_points) + "\" time=\"" + Seconds(r.seconds) +
         "\">\n";
  xml += "  <testsuite name=\"" + XmlText(r.check, true) + "\" tests=\"" +
         std::to_string(r.crash_points.size()) + "\" failures=\"" + std::to_string(failing_points) +
         "\">\n";
  for (const auto& p : r.crash_points) {
    xml += "    <testcase classname=\"explore\" name=\"crash point " +
           std::to_string(p.crash_point) + "\">\n";
    if (p.failed_visits > 0) {
      std::string details;
      ExplorationResult one;
      one.check = r.check;
      for (const ExplorationFailure* f : by_point[p.crash_point]) one.failures.push_back(*f);
      details = ExplorationText(one);
      xml += "      <failure message=\"" + p.failed_states.ToString() + " of " +
             p.states.ToString() + " states fail the check\">" + XmlText(details, false) +
             "</failure>\n";
    }
    xml += "      <system-out>states " + p.states.ToString() + ", checked " +
           std::to_string(p.visited) + ", pruned " + p.pruned.ToString() + ", not tried " +
           p.not_tried.ToString() + "</system-out>\n";
    xml += "    </testcase>\n";
  }
  xml += "  </testsuite>\n</testsuites>\n";
  return xml;
}

}  // namespace nvlab
