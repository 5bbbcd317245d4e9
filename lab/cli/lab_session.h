// lab_session.h -- the nvlab command's side of a LabSession (nvlab/lab_session.h, lab/session):
// the JSON documents and summaries it prints of the results (lab_report_text.cc), and the demo.

#ifndef NVLAB_LAB_SESSION_H_
#define NVLAB_LAB_SESSION_H_

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli_options.h"
#include "nvlab/cut_report.h"
#include "nvlab/lab_session.h"

namespace nvlab {

// kLostLinesInText: how many lost lines CutSummary lists before "... and N more".
inline constexpr size_t kLostLinesInText = 20;

nlohmann::json StepJson(const StepResult& step);
// CutReportJson is the report as the plugin wrote it, with "symbol" added to each lost line
// UserSymbolizer named (docs/formats/cut-report.md); null when the report is absent.
nlohmann::json CutReportJson(const CutReport& cut);
nlohmann::json PowerCycleJson(const PowerCycleResult& result);
// CutSummary is the human-readable account of a cut, lines starting "nvlab:" + indent: "cut:
// trigger X, N NVDIMM lines lost", then (indented two more) up to kLostLinesInText lost lines
// (DescribeLostLine), "... and N more" when there are more, and the unresolved flushes when there
// were any. Empty when the report is absent.
std::string CutSummary(const CutReport& cut, std::string_view indent);
// PowerCycleSummary is the human-readable account printed on stderr.
std::string PowerCycleSummary(const PowerCycleResult& result);
// BootSeconds formats a boot's duration for those lines: "0.83".
std::string BootSeconds(double seconds);

// RunDemo is `nvlab demo`: the README's main job.
int RunDemo(const CliOptions& options);

}  // namespace nvlab

#endif  // NVLAB_LAB_SESSION_H_
