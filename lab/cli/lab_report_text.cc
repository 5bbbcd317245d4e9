// lab_report_text.cc -- what the nvlab command prints of a session's results: the JSON
// documents of --json and the summaries on stderr (lab_session.h).

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "lab_session.h"
#include "nvlab/hex.h"

namespace nvlab {

nlohmann::json StepJson(const StepResult& step) {
  nlohmann::json j = {{"command", step.argv},
                      {"boot_seconds", step.boot_seconds},
                      {"command_seconds", step.command_seconds},
                      {"nvlab_pmem", step.nvlab_pmem}};
  if (step.result.cut_by_guest) {
    j["cut_by_guest"] = true;
  } else {
    j["exit_status"] = step.result.status.ShellStatus();
    j["signaled"] = step.result.status.signaled;
  }
  return j;
}

nlohmann::json CutReportJson(const CutReport& cut) {
  if (!cut.present) return nullptr;
  auto report = nlohmann::json::parse(cut.json, nullptr, false);
  if (report.is_discarded()) return nullptr;
  // ParseCutReport checked that lost_lines is an array of objects, one per cut.lines entry.
  auto lines = report.find("lost_lines");
  for (size_t i = 0; i < cut.lines.size(); ++i) {
    if (!cut.lines[i].symbol.empty() && lines != report.end() && i < lines->size()) {
      (*lines)[i]["symbol"] = cut.lines[i].symbol;
    }
  }
  return report;
}

nlohmann::json PowerCycleJson(const PowerCycleResult& result) {
  nlohmann::json cut = {{"model", result.model}, {"on_cut", result.on_cut}};
  if (result.cut.present) {
    auto report = CutReportJson(result.cut);
    if (!report.is_null()) cut["report"] = report;
  }
  return {{"machine", result.machine},
          {"persistence", result.persistence},
          {"before", StepJson(result.before)},
          {"cut", cut},
          {"after", StepJson(result.after)}};
}

std::string CutSummary(const CutReport& cut, std::string_view indent) {
  if (!cut.present) return "";
  const std::string head = "nvlab:" + std::string(indent);
  std::string out = head + "cut: trigger " + cut.trigger + ", " + std::to_string(cut.lost_lines) +
                    " NVDIMM lines lost\n";
  const size_t shown = std::min(cut.lines.size(), kLostLinesInText);
  for (size_t i = 0; i < shown; ++i) out += head + "  " + DescribeLostLine(cut.lines[i]) + "\n";
  if (cut.lost_lines > shown) {
    out += head + "  ... and " + std::to_string(cut.lost_lines - shown) +
           " more (--json lists up to 1000)\n";
  }
  if (cut.totals.unresolved_flushes > 0) {
    const uint64_t n = cut.totals.unresolved_flushes;
    out += head + "  " + std::to_string(n) + (n == 1 ? " flush" : " flushes") +
           " had no address the model could translate";
    for (size_t i = 0; i < cut.unresolved_flush_pcs.size(); ++i) {
      out += (i ? ", " : " (pc ") + FormatHex(cut.unresolved_flush_pcs[i]);
    }
    if (!cut.unresolved_flush_pcs.empty()) out += ")";
    out += ": the NVDIMMs may hold less than the program made durable\n";
  }
  if (cut.totals.user_work_completed_in_kernel > 0) {
    const uint64_t n = cut.totals.user_work_completed_in_kernel;
    out += head + "  " + std::to_string(n) +
           (n == 1 ? " time the guest kernel" : " times the guest kernel") +
           " (an interrupt or system call) completed flushes or NT stores a program had left "
           "unfenced";
    for (size_t i = 0; i < cut.kernel_completions.size(); ++i) {
      out += (i ? ", " : " (") + FormatHex(cut.kernel_completions[i].user_pc) + " by " +
             FormatHex(cut.kernel_completions[i].fence_pc);
    }
    if (!cut.kernel_completions.empty()) out += ")";
    out += ": as on hardware, what they wrote is durable without the program's own fence\n";
  }
  return out;
}

std::string BootSeconds(double seconds) {
  char text[32];
  (void)std::snprintf(text, sizeof text, "%.2f", seconds);
  return text;
}

std::string PowerCycleSummary(const PowerCycleResult& r) {
  std::ostringstream out;
  out << "nvlab: power-cycle on " << r.machine << " (" << r.persistence << ", model "
      << (r.model ? "on, on-cut " + r.on_cut : std::string("off")) << ")\n";
  out << "nvlab:   before: ";
  if (r.before.result.cut_by_guest) {
    out << "cut the power itself";
  } else {
    out << "exit " << r.before.result.status.ShellStatus();
  }
  out << " (boot " << BootSeconds(r.before.boot_seconds) << " s)\n";
  out << CutSummary(r.cut, "   ");
  out << "nvlab:   after: exit " << r.after.result.status.ShellStatus() << " (boot "
      << BootSeconds(r.after.boot_seconds) << " s)\n";
  return out.str();
}

}  // namespace nvlab
