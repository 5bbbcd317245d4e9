// exploration_html.cc -- ExplorationHtml: the static report page.

#include "nvlab/exploration/exploration_html.h"

#include "nvlab/exploration/exploration_report.h"
#include "nvlab/hex.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

constexpr const char kStyle[] = R"(
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
.summary { font-family: monospace; background: #f4f4f4; padding: 0.6em; }
.pass { color: #17702a; } .fail { color: #b00020; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; font-family: monospace; font-size: 0.9em; }
th { background: #eee; text-align: left; }
tr.store td.kind { color: #333; } tr.flush td.kind { color: #0b5394; }
tr.fence td.kind, tr.wbinvd td.kind { color: #7a4a00; font-weight: bold; }
tr.missed { background: #ffd7d7; } tr.missed td.note { color: #b00020; font-weight: bold; }
tr.cut { background: #333; color: #fff; }
pre { background: #f8f8f8; border: 1px solid #ddd; padding: 0.5em; white-space: pre-wrap; }
)";

// Guest text: the lab's escaping (control bytes shown as \xNN), then HTML's.
std::string GuestText(std::string_view text) {
  return HtmlText(EscapeUntrustedLines(text));
}

std::string FailureSection(const ExplorationResult& r, const ExplorationFailure& f, size_t n) {
  std::string html = "<section class=\"failure\" id=\"failure-" + std::to_string(n) + "\">\n";
  html += "<h2>Failure " + std::to_string(n) + ": crash point " +
          (f.at_end
               ? std::string("at the end")
               : "before event " + std::to_string(f.crash_point) + " (PC " + FormatHex(f.fence_pc) +
                     (f.fence_symbol.empty() ? "" : " " + GuestText(f.fence_symbol)) + ")") +
          "</h2>\n";
  html += "<p>" + HtmlText(f.represented.ToString()) + " state(s); the check ended with <b>" +
          GuestText(f.verdict) + "</b>.</p>\n";
  html += "<table class=\"lines\"><tr><th>line</th><th>state</th><th>did not persist</th></tr>\n";
  for (const FailedLine& l : f.lines) {
    std::string missed;
    for (const MissedWrite& w : l.missed) {
      missed += std::string(explore::ToString(w.kind)) + " at " + FormatHex(w.gpa) + ", event " +
                std::to_string(w.event) + ", PC " + FormatHex(w.pc) +
                (w.symbol.empty() ? "" : " " + GuestText(w.symbol)) +
                (w.process.empty() ? "" : ", " + GuestText(w.process));
    }
    html += "<tr class=\"" + std::string(l.persisted ? "in" : "out") + "\"><td>" +
            FormatHex(l.gpa) + "</td><td>" +
            (l.persisted ? std::string("in")
                         : "out (" + std::to_string(l.candidate) + " of " +
                               std::to_string(l.candidates) + ")") +
            "</td><td>" + missed + "</td></tr>\n";
  }
  html += "</table>\n";
  html += "<h3>Timeline</h3>\n";
  if (f.timeline_skipped > 0) {
    html += "<p>" + std::to_string(f.timeline_skipped) + " earlier event(s) not shown.</p>\n";
  }
  html +=
      "<table class=\"timeline\"><tr><th>event</th><th>cpu</th><th>kind</th><th>address</th>"
      "<th>size</th><th>PC</th><th>process</th><th></th></tr>\n";
  for (const TimelineEvent& t : f.timeline) {
    const bool has_address =
        t.kind == explore::EventKind::kStore || t.kind == explore::EventKind::kFlush;
    html += "<tr class=\"" + std::string(explore::ToString(t.kind)) + (t.missed ? " missed" : "") +
            "\"><td>" + std::to_string(t.event) + "</td><td>" + std::to_string(t.cpu) +
            "</td><td class=\"kind\">" + explore::ToString(t.kind) +
            (t.non_temporal ? " (NT)" : "") + "</td><td>" + (has_address ? FormatHex(t.gpa) : "") +
            "</td><td>" + (t.kind == explore::EventKind::kStore ? std::to_string(t.size) : "") +
            "</td><td>" + FormatHex(t.pc) +
            (t.symbol.empty() ? "" : " <span class=\"symbol\">" + GuestText(t.symbol) + "</span>") +
            "</td><td>" + GuestText(t.process) + "</td><td class=\"note\">" +
            (t.missed ? "did not persist" : "") + "</td></tr>\n";
  }
  html += "<tr class=\"cut\"><td colspan=\"8\">power cut</td></tr>\n</table>\n";
  if (!f.check_output.empty()) {
    html += "<h3>Check output</h3>\n<pre>" + GuestText(f.check_output) + "</pre>\n";
  }
  if (const std::string replay = ReplayCommand(f, r.check); !replay.empty()) {
    html += "<h3>Replay</h3>\n<pre>" + HtmlText(replay) + "</pre>\n";
  }
  return html + "</section>\n";
}

}  // namespace

std::string HtmlText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string ExplorationHtml(const ExplorationResult& r) {
  const bool failed = r.totals.failed_visits > 0;
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>nvlab explore: " +
      HtmlText(r.check) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<h1>nvlab explore</h1>\n<p>Check: <code>" + HtmlText(r.check) + "</code></p>\n";
  html += "<p class=\"summary " + std::string(failed ? "fail" : "pass") + "\">" +
          HtmlText(ExplorationSummaryLine(r)) + "</p>\n";
  html += "<p>" + std::to_string(r.recorded_events) + " recorded NVDIMM events; " +
          std::to_string(r.failures.size()) + " failing state(s) listed.</p>\n";
  size_t n = 0;
  for (const ExplorationFailure& f : r.failures) html += FailureSection(r, f, ++n);
  return html + "</body>\n</html>\n";
}

}  // namespace nvlab
