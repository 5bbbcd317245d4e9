// cut_report.cc -- ParseCutReport, DescribeLostLine.

#include "nvlab/cut_report.h"

#include <cstdio>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <system_error>

#include "nvlab/hex.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxCommBytes = 64;
constexpr int kMaxJsonDepth = 64;

Status Bad(const std::string& field, std::string_view problem) {
  return Status::ProtocolError("cut report: " + field + ": " + std::string(problem));
}

// ParseHex reads "0x" and 1 to 16 hex digits.
bool ParseHex(std::string_view text, uint64_t* out) {
  return text.starts_with("0x") && ParseHexDigits(text.substr(2), out);
}

Status HexValue(const Json& v, const std::string& path, uint64_t* out) {
  if (!v.is_string() || !ParseHex(v.get_ref<const std::string&>(), out)) {
    return Bad(path, "not a hex string (\"0x\" and 1 to 16 hex digits)");
  }
  return Status::Ok();
}

// BytesOf undoes the plugin's escaping of each byte >= 0x7f as \u00XX: the JSON reader made
// them the UTF-8 of U+0080..U+00FF. A character above U+00FF was not a byte: false.
bool BytesOf(const std::string& utf8, std::string* bytes) {
  bytes->clear();
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      bytes->push_back(static_cast<char>(c));
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < utf8.size()) {
      const auto next = static_cast<unsigned char>(utf8[++i]);
      bytes->push_back(static_cast<char>(((c & 0x03) << 6) | (next & 0x3f)));
    } else {
      return false;
    }
  }
  return true;
}

// Object reads the fields of one JSON object whose place in the report is path ("" for the
// top level, "totals", "lost_lines[3]", ...).
class Object {
 public:
  Object(const Json& json, std::string path) : json_(json), path_(std::move(path)) {}

  std::string Path(std::string_view name) const {
    return path_.empty() ? std::string(name) : path_ + "." + std::string(name);
  }
  bool Has(const char* name) const { return json_.contains(name); }

  // Member sets *out to the member, which must exist.
  Status Member(const char* name, const Json** out) const {
    const auto it = json_.find(name);
    if (it == json_.end()) return Bad(Path(name), "missing");
    *out = &*it;
    return Status::Ok();
  }
  // Member with a check of its type.
  Status Member(const char* name, bool (Json::*is_type)() const noexcept, const char* problem,
                const Json** out) const {
    const auto it = json_.find(name);
    if (it == json_.end()) return Bad(Path(name), "missing");
    if (!((*it).*is_type)()) return Bad(Path(name), problem);
    *out = &*it;
    return Status::Ok();
  }
  Status String(const char* name, std::string* out) const {
    const Json* v = nullptr;
    NVLAB_RETURN_IF_ERROR(Member(name, &v));
    if (!v->is_string()) return Bad(Path(name), "not a string");
    *out = v->get<std::string>();
    return Status::Ok();
  }
  Status OneOf(const char* name, std::initializer_list<std::string_view> values,
               std::string* out) const {
    NVLAB_RETURN_IF_ERROR(String(name, out));
    for (std::string_view v : values) {
      if (*out == v) return Status::Ok();
    }
    std::string expected;
    for (std::string_view v : values) expected += (expected.empty() ? "" : ", ") + std::string(v);
    return Bad(Path(name), "not one of " + expected);
  }
  Status Unsigned(const char* name, uint64_t* out) const {
    const Json* v = nullptr;
    NVLAB_RETURN_IF_ERROR(Member(name, &v));
    if (!v->is_number_unsigned()) return Bad(Path(name), "not a non-negative integer");
    *out = v->get<uint64_t>();
    return Status::Ok();
  }
  // Integer32 reads an integer that fits 32 bits, signed or not.
  Status Integer32(const char* name, int64_t* out) const {
    const Json* v = nullptr;
    NVLAB_RETURN_IF_ERROR(Member(name, &v));
    if (v->is_number_unsigned()) {
      if (v->get<uint64_t>() > UINT32_MAX) return Bad(Path(name), "out of range");
    } else if (v->is_number_integer()) {
      if (v->get<int64_t>() < INT32_MIN) return Bad(Path(name), "out of range");
    } else {
      return Bad(Path(name), "not an integer");
    }
    *out = v->get<int64_t>();
    return Status::Ok();
  }
  Status Number(const char* name, double* out) const {
    const Json* v = nullptr;
    NVLAB_RETURN_IF_ERROR(Member(name, &v));
    if (!v->is_number()) return Bad(Path(name), "not a number");
    *out = v->get<double>();
    return Status::Ok();
  }
  Status HexField(const char* name, uint64_t* out) const {
    const Json* v = nullptr;
    NVLAB_RETURN_IF_ERROR(Member(name, &v));
    return HexValue(*v, Path(name), out);
  }
  Status OptionalHex(const char* name, std::optional<uint64_t>* out) const {
    out->reset();
    if (!Has(name)) return Status::Ok();
    uint64_t value = 0;
    NVLAB_RETURN_IF_ERROR(HexField(name, &value));
    *out = value;
    return Status::Ok();
  }
  Status Array(const char* name, const Json** out) const {
    return Member(name, &Json::is_array, "not an array", out);
  }
  Status Child(const char* name, const Json** out) const {
    return Member(name, &Json::is_object, "not an object", out);
  }

 private:
  const Json& json_;
  std::string path_;
};

std::string Element(std::string_view array, size_t i) {
  return std::string(array) + "[" + std::to_string(i) + "]";
}

Status ParseProcess(const Json& json, const std::string& path, GuestProcess* out) {
  if (!json.is_object()) return Bad(path, "not an object");
  const Object o(json, path);
  // pid and tgid are guest memory the plugin read: odd values are reported, not refused.
  NVLAB_RETURN_IF_ERROR(o.Integer32("pid", &out->pid));
  NVLAB_RETURN_IF_ERROR(o.Integer32("tgid", &out->tgid));
  std::string comm;
  NVLAB_RETURN_IF_ERROR(o.String("comm", &comm));
  if (!BytesOf(comm, &out->comm)) {
    return Bad(o.Path("comm"), "not a byte string (a character above \\u00ff)");
  }
  if (out->comm.size() > kMaxCommBytes) {
    return Bad(o.Path("comm"), "longer than " + std::to_string(kMaxCommBytes) + " bytes");
  }
  return Status::Ok();
}

Status ParseLostLine(const Json& json, const std::string& path, LostLine* out) {
  if (!json.is_object()) return Bad(path, "not an object");
  const Object o(json, path);
  NVLAB_RETURN_IF_ERROR(o.Unsigned("nvdimm", &out->nvdimm));
  NVLAB_RETURN_IF_ERROR(o.HexField("offset", &out->offset));
  NVLAB_RETURN_IF_ERROR(o.HexField("gpa", &out->gpa));
  NVLAB_RETURN_IF_ERROR(o.OneOf("state", {"dirty", "flush-pending", "wc-buffer"}, &out->state));
  NVLAB_RETURN_IF_ERROR(o.OptionalHex("pc", &out->pc));
  NVLAB_RETURN_IF_ERROR(o.OptionalHex("cr3", &out->cr3));
  if (o.Has("process")) {
    GuestProcess process;
    NVLAB_RETURN_IF_ERROR(ParseProcess(json["process"], o.Path("process"), &process));
    out->process = std::move(process);
  }
  return Status::Ok();
}

Status ParseNvdimm(const Json& json, const std::string& path, CutReportNvdimm* out) {
  if (!json.is_object()) return Bad(path, "not an object");
  const Object o(json, path);
  NVLAB_RETURN_IF_ERROR(o.Unsigned("index", &out->index));
  NVLAB_RETURN_IF_ERROR(o.HexField("gpa", &out->gpa));
  NVLAB_RETURN_IF_ERROR(o.Unsigned("size", &out->size));
  return o.String("path", &out->path);
}

Status ParseKernelCompletion(const Json& json, const std::string& path, KernelCompletion* out) {
  if (!json.is_object()) return Bad(path, "not an object");
  const Object o(json, path);
  NVLAB_RETURN_IF_ERROR(o.HexField("fence_pc", &out->fence_pc));
  return o.HexField("user_pc", &out->user_pc);
}

Status ParseTotals(const Object& totals, uint64_t* lost_lines, CutTotals* out) {
  NVLAB_RETURN_IF_ERROR(totals.Unsigned("lost_lines", lost_lines));
  const std::pair<const char*, uint64_t*> fields[] = {
      {"lost_dirty", &out->lost_dirty},
      {"lost_flush_pending", &out->lost_flush_pending},
      {"lost_wc_buffer", &out->lost_wc_buffer},
      {"lines_rewritten", &out->lines_rewritten},
      {"stores", &out->stores},
      {"nt_stores", &out->nt_stores},
      {"flushes", &out->flushes},
      {"translated_flushes", &out->translated_flushes},
      {"fences", &out->fences},
      {"ordering_fences", &out->ordering_fences},
      {"wbinvds", &out->wbinvds},
      {"unresolved_flushes", &out->unresolved_flushes},
  };
  for (const auto& [name, value] : fields) NVLAB_RETURN_IF_ERROR(totals.Unsigned(name, value));
  // Optional in format version 1 (docs/formats/cut-report.md), like kernel_completions.
  if (totals.Has("user_work_completed_in_kernel")) {
    NVLAB_RETURN_IF_ERROR(
        totals.Unsigned("user_work_completed_in_kernel", &out->user_work_completed_in_kernel));
  }
  return Status::Ok();
}

Status ParseDocument(const Json& doc, CutReport* r) {
  const Object o(doc, "");
  std::string format;
  NVLAB_RETURN_IF_ERROR(o.String("format", &format));
  if (format != "nvlab-cut-report") return Bad("format", "not \"nvlab-cut-report\"");
  uint64_t version = 0;
  NVLAB_RETURN_IF_ERROR(o.Unsigned("version", &version));
  if (version != 1) {
    return Bad("version", std::to_string(version) + " is not supported (this nvlab reads 1)");
  }
  NVLAB_RETURN_IF_ERROR(o.OneOf("trigger", {"host", "guest", "fences"}, &r->trigger));
  NVLAB_RETURN_IF_ERROR(o.OneOf("nvdimm_sync", {"ok", "failed"}, &r->nvdimm_sync));
  if (r->nvdimm_sync == "failed") {
    NVLAB_RETURN_IF_ERROR(o.String("nvdimm_sync_error", &r->nvdimm_sync_error));
  }
  NVLAB_RETURN_IF_ERROR(o.OneOf("persistence", {"adr", "eadr"}, &r->persistence));
  NVLAB_RETURN_IF_ERROR(o.OneOf("policy", {"lose", "keep", "random"}, &r->policy));
  NVLAB_RETURN_IF_ERROR(o.String("policy_text", &r->policy_text));
  NVLAB_RETURN_IF_ERROR(o.Unsigned("seed", &r->seed));
  NVLAB_RETURN_IF_ERROR(o.Number("p", &r->p));

  const Json* nvdimms = nullptr;
  NVLAB_RETURN_IF_ERROR(o.Array("nvdimms", &nvdimms));
  r->nvdimms.resize(nvdimms->size());
  for (size_t i = 0; i < nvdimms->size(); ++i) {
    NVLAB_RETURN_IF_ERROR(ParseNvdimm((*nvdimms)[i], Element("nvdimms", i), &r->nvdimms[i]));
  }

  const Json* lines = nullptr;
  NVLAB_RETURN_IF_ERROR(o.Array("lost_lines", &lines));
  r->lines.resize(lines->size());
  for (size_t i = 0; i < lines->size(); ++i) {
    NVLAB_RETURN_IF_ERROR(ParseLostLine((*lines)[i], Element("lost_lines", i), &r->lines[i]));
  }
  uint64_t listed = 0;
  NVLAB_RETURN_IF_ERROR(o.Unsigned("lost_lines_listed", &listed));
  if (listed != r->lines.size()) {
    return Bad("lost_lines_listed", std::to_string(listed) + " but lost_lines has " +
                                        std::to_string(r->lines.size()) + " entries");
  }

  const Json* totals = nullptr;
  NVLAB_RETURN_IF_ERROR(o.Child("totals", &totals));
  NVLAB_RETURN_IF_ERROR(ParseTotals(Object(*totals, "totals"), &r->lost_lines, &r->totals));
  if (r->lost_lines < listed) {
    return Bad("totals.lost_lines", "fewer than the " + std::to_string(listed) + " listed");
  }

  const Json* pcs = nullptr;
  NVLAB_RETURN_IF_ERROR(o.Array("unresolved_flush_pcs", &pcs));
  r->unresolved_flush_pcs.resize(pcs->size());
  for (size_t i = 0; i < pcs->size(); ++i) {
    NVLAB_RETURN_IF_ERROR(
        HexValue((*pcs)[i], Element("unresolved_flush_pcs", i), &r->unresolved_flush_pcs[i]));
  }

  if (o.Has("kernel_completions")) {
    const Json* completions = nullptr;
    NVLAB_RETURN_IF_ERROR(o.Array("kernel_completions", &completions));
    if (completions->size() > r->totals.user_work_completed_in_kernel) {
      return Bad("kernel_completions",
                 "more entries than totals.user_work_completed_in_kernel counts");
    }
    r->kernel_completions.resize(completions->size());
    for (size_t i = 0; i < completions->size(); ++i) {
      NVLAB_RETURN_IF_ERROR(ParseKernelCompletion(
          (*completions)[i], Element("kernel_completions", i), &r->kernel_completions[i]));
    }
  }
  return Status::Ok();
}

}  // namespace

Status ParseCutReport(std::string_view text, CutReport* report) {
  *report = CutReport();
  if (text.size() > kMaxCutReportBytes) {
    return Status::ProtocolError("cut report: larger than " +
                                 std::to_string(kMaxCutReportBytes >> 20) + " MiB");
  }
  // Nesting is bounded: serializing a document is recursive.
  bool too_deep = false;
  const Json doc = Json::parse(
      text,
      [&too_deep](int depth, Json::parse_event_t, Json&) {
        if (depth > kMaxJsonDepth) too_deep = true;
        return !too_deep;
      },
      /*allow_exceptions=*/false);
  if (too_deep) {
    return Status::ProtocolError("cut report: nested deeper than " + std::to_string(kMaxJsonDepth) +
                                 " levels");
  }
  if (doc.is_discarded()) return Status::ProtocolError("cut report: not valid JSON");
  if (!doc.is_object()) return Status::ProtocolError("cut report: not a JSON object");
  CutReport parsed;
  NVLAB_RETURN_IF_ERROR(ParseDocument(doc, &parsed));
  parsed.present = true;
  parsed.json = doc.dump();
  *report = std::move(parsed);
  return Status::Ok();
}

Status CheckCutSynced(const CutReport& report) {
  if (!report.present || report.nvdimm_sync == "ok") return Status::Ok();
  std::string why = report.nvdimm_sync_error.substr(0, 200);
  return Status::IoError(
      "power cut failed: the persistence model could not sync the NVDIMM files (" +
      EscapeUntrusted(why.empty() ? report.nvdimm_sync : why) + "); what they hold is unknown");
}

std::string DescribeLostLine(const LostLine& line) {
  std::string text = "lost nvdimm" + std::to_string(line.nvdimm) + "+" + FormatHex(line.offset) +
                     " (gpa " + FormatHex(line.gpa) + ") " + EscapeUntrusted(line.state);
  if (line.pc || line.process) text += ", last store";
  if (line.pc) text += " pc " + FormatHex(*line.pc);
  if (line.process) {
    const GuestProcess& p = *line.process;
    text += " in " + EscapeUntrusted(p.comm) + "[" + std::to_string(p.tgid);
    if (p.pid != p.tgid) text += " thread " + std::to_string(p.pid);
    text += "]";
  }
  if (!line.symbol.empty()) text += " (" + EscapeUntrusted(line.symbol) + ")";
  return text;
}

}  // namespace nvlab
