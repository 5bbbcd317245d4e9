// cut_report_json.cc -- FormatCutReportJson, JsonString.
#include "cut_report_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>

#include "nvlab/hex.h"

namespace nvlab::plugin {
namespace {

// Members keep the order they are added in: the report lists them as the format documents.
using Json = nlohmann::ordered_json;

// Text is a byte string as a JSON string value: each byte becomes the code point of the same
// number (U+0000..U+00FF, Latin-1 read as UTF-8), so the value is valid UTF-8 whatever the
// guest wrote and a reader gets the bytes back one per character.
Json Text(std::string_view bytes) {
  std::string utf8;
  utf8.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      utf8 += static_cast<char>(c);
    } else {
      utf8 += static_cast<char>(0xc0 | (c >> 6));
      utf8 += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return utf8;
}

// Hex: addresses, offsets and PCs are strings ("0x1040"): 64-bit values do not fit every
// JSON reader's numbers.
Json Hex(uint64_t value) {
  return FormatHex(value);
}

// Scalar writes one value. Strings are escaped by nlohmann (ensure_ascii: every character from
// U+007F as \u00XX; replace: invalid UTF-8, which Text never produces, cannot throw); floats
// (only "p") have six significant digits, as %g writes them.
std::string Scalar(const Json& value) {
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (!std::isfinite(number)) return "null";
    char buf[32];
    (void)std::snprintf(buf, sizeof buf, "%.6g", number);
    return buf;
  }
  return value.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

// OneLine writes a value on one line: {"a": 1, "b": [2, 3]}.
std::string OneLine(const Json& value) {
  if (!value.is_structured()) return Scalar(value);
  const bool object = value.is_object();
  std::string out = object ? "{" : "[";
  bool first = true;
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!first) out += ", ";
    first = false;
    if (object) out += Scalar(it.key()) + ": ";
    out += OneLine(it.value());
  }
  return out + (object ? "}" : "]");
}

// Member writes a member of the top-level object. An object, or an array of objects, has one
// member or element per line; anything deeper is on one line, so that a lost line is one
// line of text.
std::string Member(const Json& value) {
  const bool lines =
      value.is_object() ||
      (value.is_array() && !value.empty() &&
       std::any_of(value.begin(), value.end(), [](const Json& v) { return v.is_structured(); }));
  if (!lines) return OneLine(value);
  const bool object = value.is_object();
  std::string out = object ? "{" : "[";
  bool first = true;
  for (auto it = value.begin(); it != value.end(); ++it) {
    out += first ? "\n    " : ",\n    ";
    first = false;
    if (object) out += Scalar(it.key()) + ": ";
    out += OneLine(it.value());
  }
  return out + (object ? "\n  }" : "\n  ]");
}

// Document writes the report's top-level object, one member per line, and a final newline.
std::string Document(const Json& report) {
  std::string out = "{";
  bool first = true;
  for (auto it = report.begin(); it != report.end(); ++it) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    out += Scalar(it.key()) + ": " + Member(it.value());
  }
  return out + "\n}\n";
}

Json Nvdimms(const std::vector<NvdimmOption>* nvdimms) {
  Json list = Json::array();
  if (nvdimms == nullptr) return list;
  for (const NvdimmOption& n : *nvdimms) {
    list.push_back(
        {{"index", n.index}, {"gpa", Hex(n.base)}, {"size", n.size}, {"path", Text(n.path)}});
  }
  return list;
}

// Process names the guest task of a line's last store, or is null when unknown.
Json Process(const CutReportInput& in, const model::StoreSite& store) {
  if (in.processes == nullptr || store.context == 0 || store.context > in.processes->size()) {
    return nullptr;
  }
  const GuestTask& task = (*in.processes)[store.context - 1];
  return {{"pid", task.pid}, {"tgid", task.tgid}, {"comm", Text(task.comm)}};
}

Json LostLines(const CutReportInput& in) {
  Json list = Json::array();
  for (const model::LostLine& l : in.cut->lost) {
    Json line = {{"nvdimm", l.nvdimm},
                 {"offset", Hex(l.offset)},
                 {"gpa", Hex(l.gpa)},
                 {"state", Text(model::LineStateName(l.state))}};
    if (l.site_known) {
      line["pc"] = Hex(l.last_store.pc);
      line["cr3"] = Hex(l.last_store.cr3);
      if (Json process = Process(in, l.last_store); !process.is_null()) {
        line["process"] = std::move(process);
      }
    }
    list.push_back(std::move(line));
  }
  return list;
}

Json Totals(const CutReportInput& in) {
  const model::PowerCutReport& cut = *in.cut;
  return {{"lost_lines", cut.lost_lines},
          {"lost_dirty", cut.lost_dirty},
          {"lost_flush_pending", cut.lost_flush_pending},
          {"lost_wc_buffer", cut.lost_wc_buffer},
          {"lines_rewritten", in.lines_rewritten},
          {"stores", in.counters.stores},
          {"nt_stores", in.counters.nt_stores},
          {"flushes", in.counters.flushes},
          {"translated_flushes", in.translated_flushes},
          {"fences", in.counters.fences},
          {"ordering_fences", in.counters.ordering_fences},
          {"wbinvds", in.counters.wbinvds},
          {"unresolved_flushes", in.unresolved_flushes},
          {"user_work_completed_in_kernel", in.kernel_completions}};
}

Json KernelCompletions(const CutReportInput& in) {
  Json list = Json::array();
  for (const KernelCompletion& k : in.kernel_completion_samples) {
    list.push_back({{"fence_pc", Hex(k.fence_pc)}, {"user_pc", Hex(k.user_pc)}});
  }
  return list;
}

Json UnresolvedFlushPcs(const CutReportInput& in) {
  Json list = Json::array();
  for (uint64_t pc : in.unresolved_flush_pcs) list.push_back(Hex(pc));
  return list;
}

}  // namespace

std::string JsonString(const std::string& text) {
  return Scalar(Text(text));
}

std::string FormatCutReportJson(const CutReportInput& in) {
  const model::PowerCutReport& cut = *in.cut;
  const bool random = cut.policy.kind == model::CutPolicy::Kind::kRandom;
  Json report;
  report["format"] = "nvlab-cut-report";
  report["version"] = 1;
  report["trigger"] = Text(in.trigger);
  report["nvdimm_sync"] = in.nvdimm_sync_error.empty() ? "ok" : "failed";
  if (!in.nvdimm_sync_error.empty()) report["nvdimm_sync_error"] = Text(in.nvdimm_sync_error);
  report["persistence"] = Text(model::PlatformName(cut.platform));
  report["policy"] = Text(model::CutPolicyKindName(cut.policy.kind));
  report["policy_text"] = Text(in.policy_text);
  report["seed"] = cut.policy.seed;
  report["p"] = random ? cut.policy.p : 0.0;
  report["nvdimms"] = Nvdimms(in.nvdimms);
  report["lost_lines"] = LostLines(in);
  report["lost_lines_listed"] = cut.lost.size();
  report["totals"] = Totals(in);
  report["kernel_completions"] = KernelCompletions(in);
  report["unresolved_flush_pcs"] = UnresolvedFlushPcs(in);
  return Document(report);
}

}  // namespace nvlab::plugin
