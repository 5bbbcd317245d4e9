// cut_report_json.cc -- FormatCutReportJson, JsonString.
#include "cut_report_json.h"

#include <cinttypes>
#include <cstdio>

namespace nvlab::plugin {
namespace {

std::string Hex(uint64_t value) {
  char buf[24];
  (void)std::snprintf(buf, sizeof buf, "\"0x%" PRIx64 "\"", value);
  return buf;
}

std::string Number(uint64_t value) {
  return std::to_string(value);
}

}  // namespace

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      (void)std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string FormatCutReportJson(const CutReportInput& in) {
  const model::PowerCutReport& cut = *in.cut;
  std::string j = "{\n";
  j += "  \"format\": \"nvlab-cut-report\",\n";
  j += "  \"version\": 1,\n";
  j += "  \"trigger\": " + JsonString(in.trigger) + ",\n";
  j += "  \"persistence\": " + JsonString(model::PlatformName(cut.platform)) + ",\n";
  j += "  \"policy\": " + JsonString(model::CutPolicyKindName(cut.policy.kind)) + ",\n";
  j += "  \"policy_text\": " + JsonString(in.policy_text) + ",\n";
  j += "  \"seed\": " + Number(cut.policy.seed) + ",\n";
  char p[32];
  (void)std::snprintf(p, sizeof p, "%.6g",
                      cut.policy.kind == model::CutPolicy::Kind::kRandom ? cut.policy.p : 0.0);
  j += "  \"p\": " + std::string(p) + ",\n";
  j += "  \"nvdimms\": [";
  if (in.nvdimms) {
    for (size_t i = 0; i < in.nvdimms->size(); ++i) {
      const NvdimmOption& n = (*in.nvdimms)[i];
      j += i ? ",\n    " : "\n    ";
      j += "{\"index\": " + Number(n.index) + ", \"gpa\": " + Hex(n.base) +
           ", \"size\": " + Number(n.size) + ", \"path\": " + JsonString(n.path) + "}";
    }
  }
  j += "\n  ],\n";
  j += "  \"lost_lines\": [";
  for (size_t i = 0; i < cut.lost.size(); ++i) {
    const model::LostLine& l = cut.lost[i];
    j += i ? ",\n    " : "\n    ";
    j += "{\"nvdimm\": " + Number(l.nvdimm) + ", \"offset\": " + Hex(l.offset) +
         ", \"gpa\": " + Hex(l.gpa) + ", \"state\": " + JsonString(model::LineStateName(l.state));
    if (l.site_known) {
      j += ", \"pc\": " + Hex(l.last_store.pc) + ", \"cr3\": " + Hex(l.last_store.cr3);
      const uint32_t context = l.last_store.context;
      if (in.processes != nullptr && context != 0 && context <= in.processes->size()) {
        const GuestTask& task = (*in.processes)[context - 1];
        j += ", \"process\": {\"pid\": " + std::to_string(task.pid) +
             ", \"tgid\": " + std::to_string(task.tgid) + ", \"comm\": " + JsonString(task.comm) +
             "}";
      }
    }
    j += "}";
  }
  j += cut.lost.empty() ? "],\n" : "\n  ],\n";
  j += "  \"lost_lines_listed\": " + Number(cut.lost.size()) + ",\n";
  j += "  \"totals\": {\n";
  j += "    \"lost_lines\": " + Number(cut.lost_lines) + ",\n";
  j += "    \"lost_dirty\": " + Number(cut.lost_dirty) + ",\n";
  j += "    \"lost_flush_pending\": " + Number(cut.lost_flush_pending) + ",\n";
  j += "    \"lost_wc_buffer\": " + Number(cut.lost_wc_buffer) + ",\n";
  j += "    \"lines_rewritten\": " + Number(in.lines_rewritten) + ",\n";
  j += "    \"stores\": " + Number(in.counters.stores) + ",\n";
  j += "    \"nt_stores\": " + Number(in.counters.nt_stores) + ",\n";
  j += "    \"flushes\": " + Number(in.counters.flushes) + ",\n";
  j += "    \"translated_flushes\": " + Number(in.translated_flushes) + ",\n";
  j += "    \"fences\": " + Number(in.counters.fences) + ",\n";
  j += "    \"ordering_fences\": " + Number(in.counters.ordering_fences) + ",\n";
  j += "    \"wbinvds\": " + Number(in.counters.wbinvds) + ",\n";
  j += "    \"unresolved_flushes\": " + Number(in.unresolved_flushes) + ",\n";
  j += "    \"user_work_completed_in_kernel\": " + Number(in.kernel_completions) + "\n";
  j += "  },\n";
  j += "  \"kernel_completions\": [";
  for (size_t i = 0; i < in.kernel_completion_samples.size(); ++i) {
    const KernelCompletion& k = in.kernel_completion_samples[i];
    j += i ? ",\n    " : "\n    ";
    j += "{\"fence_pc\": " + Hex(k.fence_pc) + ", \"user_pc\": " + Hex(k.user_pc) + "}";
  }
  j += in.kernel_completion_samples.empty() ? "],\n" : "\n  ],\n";
  j += "  \"unresolved_flush_pcs\": [";
  for (size_t i = 0; i < in.unresolved_flush_pcs.size(); ++i) {
    j += (i ? ", " : "") + Hex(in.unresolved_flush_pcs[i]);
  }
  j += "]\n}\n";
  return j;
}

}  // namespace nvlab::plugin
