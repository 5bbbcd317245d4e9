// cut_report_fuzzer.cc -- libFuzzer target over the host's reading of the plugin's cut report
// (nvlab/cut_report.h). An input whose first byte is even is parsed as it is; one whose first
// byte is odd becomes the guest-controlled parts (a process's comm, pid and tgid, a PC) of a
// report written by the plugin's own writer (lab/plugin/cut_report_json.h), which reaches
// DescribeLostLine far sooner than raw bytes do.
// Checks, besides ASan/UBSan: whatever the plugin writes, the host parses, with the guest's
// bytes intact; a report that parses describes each lost line in one line of printable ASCII
// (guest bytes never reach a terminal raw).
//
// Run: build/fuzz/fuzz/lab/cut_report_fuzzer -max_total_time=30 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "cut_report_json.h"
#include "nvlab/cut_report.h"

namespace {

// WrittenReport is the plugin's report of one lost line whose store the input describes.
std::string WrittenReport(std::string_view input, nvlab::plugin::GuestTask* task) {
  nvlab::model::PowerCutReport cut;
  nvlab::model::LostLine line;
  line.offset = 0x40;
  line.gpa = 0x100000040;
  line.site_known = true;
  line.last_store.cr3 = 0x1000;
  line.last_store.context = 1;
  if (input.size() >= 8) std::memcpy(&line.last_store.pc, input.data(), 8);
  if (input.size() >= 12) std::memcpy(&task->pid, input.data() + 8, 4);
  if (input.size() >= 16) std::memcpy(&task->tgid, input.data() + 12, 4);
  if (input.size() > 16) task->comm = std::string(input.substr(16, 16));
  cut.lost.push_back(line);
  cut.lost_lines = 1;
  cut.lost_dirty = 1;
  const std::vector<nvlab::plugin::NvdimmOption> nvdimms = {{0, 0x100000000, 1 << 20, "/x"}};
  const std::vector<nvlab::plugin::GuestTask> processes = {*task};
  nvlab::plugin::CutReportInput in;
  in.trigger = "guest";
  in.policy_text = "lose";
  in.cut = &cut;
  in.nvdimms = &nvdimms;
  in.processes = &processes;
  return nvlab::plugin::FormatCutReportJson(in);
}

[[noreturn]] void Fail(const std::string& what) {
  (void)std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool written = (data[0] & 1) != 0;
  nvlab::plugin::GuestTask task;
  const std::string text = written ? WrittenReport(input, &task) : std::string(input);
  nvlab::CutReport report;
  const nvlab::Status status = nvlab::ParseCutReport(text, &report);
  if (written) {
    if (!status.ok()) Fail("the plugin's report did not parse: " + status.message());
    if (report.lines.size() != 1 || !report.lines[0].process ||
        report.lines[0].process->comm != task.comm || report.lines[0].process->pid != task.pid ||
        report.lines[0].process->tgid != task.tgid) {
      Fail("the process did not survive the round trip: " + text);
    }
  }
  if (!status.ok()) return 0;
  for (const nvlab::LostLine& line : report.lines) {
    const std::string described = nvlab::DescribeLostLine(line);
    for (unsigned char c : described) {
      if (c < 0x20 || c >= 0x7f) Fail("unescaped byte in: " + described);
    }
  }
  return 0;
}
