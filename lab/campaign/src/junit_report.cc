// junit_report.cc -- JunitXml and the XML escaping of untrusted text.

#include "nvlab/campaign/junit_report.h"

#include <cstdint>
#include <cstdio>
#include <map>
#include <vector>

namespace nvlab::campaign {
namespace {

constexpr uint32_t kReplacement = 0xFFFD;

bool IsContinuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

// DecodeUtf8 reads one code point at bytes[at] into *cp and returns its length, or 0 when the
// bytes there are not well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF).
size_t DecodeUtf8(std::string_view bytes, size_t at, uint32_t* cp) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[at + i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t length = 0;
  unsigned char low = 0x80;  // the second byte's range, narrowed for E0, ED, F0, F4
  unsigned char high = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
    *cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    *cp = b0 & 0x0F;
    if (b0 == 0xE0) low = 0xA0;
    if (b0 == 0xED) high = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    *cp = b0 & 0x07;
    if (b0 == 0xF0) low = 0x90;
    if (b0 == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (at + length > bytes.size()) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 1; i < length; ++i) {
    if (!IsContinuation(byte(i))) return 0;
    *cp = (*cp << 6) | (byte(i) & 0x3F);
  }
  return length;
}

bool AllowedInXml(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string Seconds(double seconds) {
  char text[32];
  (void)std::snprintf(text, sizeof text, "%.3f", seconds >= 0 ? seconds : 0.0);
  return text;
}

std::string Attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "=\"" + XmlText(value, true) + "\"";
}

std::string Attr(std::string_view name, size_t value) {
  return " " + std::string(name) + "=\"" + std::to_string(value) + "\"";
}

// Totals counts one group of cases the way JUnit's attributes do.
struct Totals {
  size_t tests = 0;
  size_t failures = 0;
  size_t errors = 0;
  size_t skipped = 0;
  double seconds = 0;

  void Add(const CaseResult& c) {
    ++tests;
    failures += c.status == CaseStatus::kFail ? 1 : 0;
    errors += c.status == CaseStatus::kError ? 1 : 0;
    skipped += c.status == CaseStatus::kNotRun ? 1 : 0;
    seconds += c.seconds;
  }

  std::string Attributes() const {
    return Attr("tests", tests) + Attr("failures", failures) + Attr("errors", errors) +
           Attr("skipped", skipped) + " time=\"" + Seconds(seconds) + "\"";
  }
};

std::string CaseXml(const std::string& classname, const CaseResult& c) {
  const std::string name = c.machine + "/" + c.persistence + "/" + c.on_cut;
  std::string xml = "    <testcase" + Attr("classname", classname) + Attr("name", name) +
                    " time=\"" + Seconds(c.seconds) + "\">\n";
  // Where it ran: the property convention JUnit consumers show per test case.
  if (!c.host.empty()) {
    xml += "      <properties><property" + Attr("name", "host") + Attr("value", c.host) +
           "/></properties>\n";
  }
  switch (c.status) {
    case CaseStatus::kPass:
      break;
    case CaseStatus::kFail:
      xml += "      <failure" + Attr("message", c.message) + Attr("type", "fail") + ">" +
             XmlText(c.message, false) + "</failure>\n";
      break;
    case CaseStatus::kError:
      xml += "      <error" + Attr("message", c.message) + Attr("type", "error") + ">" +
             XmlText(c.message, false) + "</error>\n";
      break;
    case CaseStatus::kNotRun:
      xml += "      <skipped" + Attr("message", c.message) + "/>\n";
      break;
  }
  if (!c.stdout_tail.empty()) {
    xml += "      <system-out>" + XmlText(c.stdout_tail, false) + "</system-out>\n";
  }
  if (!c.stderr_tail.empty()) {
    xml += "      <system-err>" + XmlText(c.stderr_tail, false) + "</system-err>\n";
  }
  return xml + "    </testcase>\n";
}

}  // namespace

std::string XmlText(std::string_view bytes, bool attribute) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t at = 0; at < bytes.size();) {
    uint32_t cp = 0;
    size_t length = DecodeUtf8(bytes, at, &cp);
    if (length == 0) {
      cp = kReplacement;
      length = 1;
    }
    at += length;
    if (!AllowedInXml(cp)) continue;
    switch (cp) {
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
        out += attribute ? "&quot;" : "\"";
        break;
      case '\'':
        out += attribute ? "&apos;" : "'";
        break;
      case '\t':
        out += attribute ? "&#9;" : "\t";
        break;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        break;
      case '\r':
        // A literal CR would be read back as LF (XML's line-end normalization).
        out += "&#13;";
        break;
      default:
        AppendUtf8(cp, &out);
    }
  }
  return out;
}

std::string JunitXml(const CampaignReport& report) {
  // Suites in the order their tests first come.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const CaseResult*>> suites;
  Totals all;
  for (const CaseResult& c : report.cases) {
    auto [it, added] = suites.try_emplace(c.test);
    if (added) order.push_back(c.test);
    it->second.push_back(&c);
    all.Add(c);
  }
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += "<testsuites" + Attr("name", report.campaign) + all.Attributes();
  const ReportSummary summary = report.Summary();
  if (summary.missing > 0) xml += Attr("missing", summary.missing);
  xml += ">\n";
  for (const std::string& test : order) {
    const std::string classname = report.campaign + "." + test;
    Totals totals;
    for (const CaseResult* c : suites[test]) totals.Add(*c);
    xml += "  <testsuite" + Attr("name", classname) + totals.Attributes() + ">\n";
    for (const CaseResult* c : suites[test]) xml += CaseXml(classname, *c);
    xml += "  </testsuite>\n";
  }
  return xml + "</testsuites>\n";
}

}  // namespace nvlab::campaign
