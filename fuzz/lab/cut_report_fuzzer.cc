// cut_report_fuzzer.cc -- libFuzzer target over the host's reading of the plugin's cut report
// (nvlab/cut_report.h). An input whose first byte is even is parsed as it is; one whose first
// byte is odd becomes the guest-controlled parts of an otherwise valid report (a process's comm,
// pid and PC), which reaches DescribeLostLine far sooner than raw bytes do.
// Checks, besides ASan/UBSan: a report that parses describes each lost line in one line of
// printable ASCII (guest bytes never reach a terminal raw); a template report always parses.
//
// Run: build/fuzz/fuzz/lab/cut_report_fuzzer -max_total_time=30 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "nvlab/cut_report.h"

namespace {

// JsonEscaped writes bytes as the plugin does: \u00XX for control and non-ASCII bytes.
std::string JsonEscaped(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
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
  return out;
}

std::string TemplateReport(std::string_view input) {
  int32_t pid = 0;
  uint64_t pc = 0;
  if (input.size() >= 4) std::memcpy(&pid, input.data(), 4);
  if (input.size() >= 12) std::memcpy(&pc, input.data() + 4, 8);
  const std::string_view comm = input.size() > 12 ? input.substr(12, 16) : std::string_view();
  char hex[32];
  (void)std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(pc));
  return std::string(R"({"format": "nvlab-cut-report", "version": 1, "trigger": "guest",
    "persistence": "adr", "policy": "lose", "policy_text": "lose", "seed": 0, "p": 0,
    "nvdimms": [{"index": 0, "gpa": "0x100000000", "size": 268435456, "path": "/x"}],
    "lost_lines": [{"nvdimm": 0, "offset": "0x40", "gpa": "0x100000040", "state": "dirty",
      "pc": ")") +
         hex + R"(", "cr3": "0x1000", "process": {"pid": )" + std::to_string(pid) +
         R"(, "tgid": 1, "comm": ")" + JsonEscaped(comm) + R"("}}],
    "lost_lines_listed": 1,
    "totals": {"lost_lines": 1, "lost_dirty": 1, "lost_flush_pending": 0, "lost_wc_buffer": 0,
      "lines_rewritten": 1, "stores": 1, "nt_stores": 0, "flushes": 0, "translated_flushes": 0,
      "fences": 0, "ordering_fences": 0, "wbinvds": 0, "unresolved_flushes": 0},
    "unresolved_flush_pcs": []})";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool templated = (data[0] & 1) != 0;
  const std::string text = templated ? TemplateReport(input) : std::string(input);
  nvlab::CutReport report;
  const nvlab::Status status = nvlab::ParseCutReport(text, &report);
  if (templated && !status.ok()) {
    (void)std::fprintf(stderr, "a template report did not parse: %s\n", status.message().c_str());
    std::abort();
  }
  if (!status.ok()) return 0;
  for (const nvlab::LostLine& line : report.lines) {
    const std::string described = nvlab::DescribeLostLine(line);
    for (unsigned char c : described) {
      if (c < 0x20 || c >= 0x7f) {
        (void)std::fprintf(stderr, "unescaped byte 0x%02x in: %s\n", c, described.c_str());
        std::abort();
      }
    }
  }
  return 0;
}
