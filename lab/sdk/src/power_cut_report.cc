// power_cut_report.cc -- PowerCutReport's queries and PowerCutReportFrom.

#include "power_cut_report_from.h"

#include <algorithm>

#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

constexpr uint64_t kLineBytes = 64;

}  // namespace

const char* LostLineStateName(LostLineState state) {
  switch (state) {
    case LostLineState::kDirty:
      return "dirty";
    case LostLineState::kFlushPending:
      return "flush-pending";
    case LostLineState::kWcBuffer:
      return "wc-buffer";
  }
  return "dirty";
}

bool PowerCutLine::Covers(uint64_t nvdimm_index, uint64_t byte_offset, uint64_t length) const {
  if (nvdimm_index != nvdimm || length == 0) return false;
  // [offset, offset + 64) and [byte_offset, byte_offset + length) overlap; no overflow: each end
  // is compared as a distance from its own start.
  if (byte_offset >= offset) return byte_offset - offset < kLineBytes;
  return offset - byte_offset < length;
}

bool PowerCutReport::LostAt(uint64_t nvdimm, uint64_t offset, uint64_t length) const {
  for (const PowerCutLine& line : lines) {
    if (line.Covers(nvdimm, offset, length)) return true;
  }
  return false;
}

std::vector<PowerCutLine> PowerCutReport::LinesAt(uint64_t nvdimm, uint64_t offset,
                                                  uint64_t length) const {
  std::vector<PowerCutLine> found;
  for (const PowerCutLine& line : lines) {
    if (line.Covers(nvdimm, offset, length)) found.push_back(line);
  }
  return found;
}

std::string PowerCutReport::Summary(size_t max_lines) const {
  if (!present) return "no power-cut report (the model was off)\n";
  std::string out = "cut: trigger " + EscapeUntrusted(trigger) + ", " + std::to_string(lost_lines) +
                    " NVDIMM lines lost\n";
  const size_t shown = std::min(lines.size(), max_lines);
  for (size_t i = 0; i < shown; ++i) out += "  " + lines[i].description + "\n";
  if (lost_lines > shown) out += "  ... and " + std::to_string(lost_lines - shown) + " more\n";
  return out;
}

PowerCutReport PowerCutReportFrom(const CutReport& cut) {
  PowerCutReport report;
  if (!cut.present) return report;
  report.present = true;
  report.trigger = cut.trigger;
  report.persistence = cut.persistence;
  report.policy = cut.policy;
  report.policy_text = cut.policy_text;
  report.lost_lines = cut.lost_lines;
  for (const CutReportNvdimm& d : cut.nvdimms) {
    report.nvdimms.push_back({d.index, d.gpa, d.size, d.path});
  }
  for (const LostLine& l : cut.lines) {
    PowerCutLine line;
    line.nvdimm = l.nvdimm;
    line.offset = l.offset;
    line.gpa = l.gpa;
    // ParseCutReport accepts these three states only.
    line.state = l.state == "flush-pending" ? LostLineState::kFlushPending
                 : l.state == "wc-buffer"   ? LostLineState::kWcBuffer
                                            : LostLineState::kDirty;
    line.pc = l.pc;
    if (l.process) {
      line.process = l.process->comm;
      line.pid = l.process->tgid;
    }
    line.symbol = l.symbol;
    line.description = DescribeLostLine(l);
    report.lines.push_back(std::move(line));
  }
  report.stores = cut.totals.stores;
  report.nt_stores = cut.totals.nt_stores;
  report.flushes = cut.totals.flushes;
  report.fences = cut.totals.fences;
  report.unresolved_flushes = cut.totals.unresolved_flushes;
  report.json = cut.json;
  return report;
}

}  // namespace nvlab
