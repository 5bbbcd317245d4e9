// File: nvlab/cut_report.h
//
// The persistence model's account of a power cut, as the host reads it: ParseCutReport turns the
// JSON document the plugin writes (docs/formats/cut-report.md, format version 1) into a
// CutReport, and UserSymbolizer names the user-space function behind each lost line's last
// store where that is cheap (a non-PIE executable on the host whose basename is the guest
// process's name).
//
// The report's text comes from the plugin, and some of it from the guest (a process's name):
// every string in a CutReport is untrusted; EscapeUntrusted makes one safe to print.
//
// Thread-safety: plain values and pure functions; one thread at a time per UserSymbolizer.

#ifndef NVLAB_CUT_REPORT_H_
#define NVLAB_CUT_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab {

// CutReportNvdimm is one entry of the report's "nvdimms": an NVDIMM as the host declared it.
struct CutReportNvdimm {
  uint64_t index = 0;
  uint64_t gpa = 0;  // guest-physical base
  uint64_t size = 0;
  std::string path;  // backing file
};

// GuestProcess is the guest task that ran a store: the kernel's pid (thread id), tgid (process
// id) and comm (task name: the executable's basename cut to 15 bytes, unless the program renamed
// itself). All three are read from guest memory: pid and tgid are whatever integers the plugin
// found (normally positive), comm holds the guest kernel's bytes as they were: any byte.
struct GuestProcess {
  int64_t pid = 0;
  int64_t tgid = 0;
  std::string comm;
};

// LostLine is one entry of "lost_lines": a 64-byte NVDIMM line whose content the cut changed.
struct LostLine {
  uint64_t nvdimm = 0;
  uint64_t offset = 0;  // in the NVDIMM and its backing file
  uint64_t gpa = 0;
  std::string state;  // dirty | flush-pending | wc-buffer
  // The last store to the line, when the plugin knew it (--trace-stores user|on, or a
  // non-temporal store): its guest PC, CR3, and, when the image knows the kernel's
  // task layout, the task that ran it.
  std::optional<uint64_t> pc;
  std::optional<uint64_t> cr3;
  std::optional<GuestProcess> process;
  // symbol is not in the plugin's report: UserSymbolizer::Annotate adds it ("name+0xoff", printable
  // ASCII), empty when unknown.
  std::string symbol;
};

// CutTotals is the report's "totals" except lost_lines (CutReport::lost_lines).
struct CutTotals {
  uint64_t lost_dirty = 0;
  uint64_t lost_flush_pending = 0;
  uint64_t lost_wc_buffer = 0;
  uint64_t lines_rewritten = 0;
  uint64_t stores = 0;
  uint64_t nt_stores = 0;
  uint64_t flushes = 0;
  uint64_t translated_flushes = 0;
  uint64_t fences = 0;
  uint64_t ordering_fences = 0;
  uint64_t wbinvds = 0;
  uint64_t unresolved_flushes = 0;
  // Fences in guest kernel code that completed flushes or NT stores user code had left pending
  // (an interrupt or system call between a program's flush and its fence); 0 when the plugin
  // predates the field.
  uint64_t user_work_completed_in_kernel = 0;
};

// KernelCompletion is one entry of the report's "kernel_completions": a kernel fence and the
// first user-space flush or NT store whose pending work it completed.
struct KernelCompletion {
  uint64_t fence_pc = 0;
  uint64_t user_pc = 0;
};

// CutReport is the persistence model's account of a power cut; empty (present false) when the
// model was not loaded. Field names follow docs/formats/cut-report.md.
struct CutReport {
  bool present = false;
  std::string json;     // the report as the plugin wrote it, re-serialized compactly
  std::string trigger;  // host | guest | fences
  // nvdimm_sync: "ok" when the plugin synced the NVDIMM files after the cut, else "failed" with
  // the plugin's nvdimm_sync_error (CheckCutSynced makes that a lab failure).
  std::string nvdimm_sync;
  std::string nvdimm_sync_error;
  uint64_t lost_lines = 0;  // totals.lost_lines: every lost line, listed or not
  std::string persistence;  // adr | eadr
  std::string policy;       // lose | keep | random
  std::string policy_text;  // the on-cut option as given
  uint64_t seed = 0;
  double p = 0;
  std::vector<CutReportNvdimm> nvdimms;
  // lines is "lost_lines" (sorted by gpa, at most 1000 of them); its size is the report's
  // lost_lines_listed.
  std::vector<LostLine> lines;
  CutTotals totals;
  std::vector<uint64_t> unresolved_flush_pcs;
  std::vector<KernelCompletion> kernel_completions;  // up to 8 samples; optional in the report
};

// kMaxCutReportBytes bounds the text ParseCutReport accepts (a full report is about 250 KB).
inline constexpr size_t kMaxCutReportBytes = 8 << 20;

// ParseCutReport fills *report (present true, json set) from the text of a format-version-1
// report. Strict about what version 1 defines: every documented field present with its type,
// hex strings ("0x" and 1 to 16 hex digits), known trigger, nvdimm_sync (with nvdimm_sync_error
// when "failed"), persistence, policy and state values,
// lost_lines_listed equal to the entries listed; totals.user_work_completed_in_kernel and
// kernel_completions (no more entries than that total) are optional. Fields it does not know are
// ignored. Anything else (not JSON, not an object, another format or version, larger than
// kMaxCutReportBytes): ProtocolError naming the field, e.g. "cut report: lost_lines[3].gpa: not
// a hex string".
// *report is reset first and left empty on error.
Status ParseCutReport(std::string_view text, CutReport* report);

// CheckCutSynced is OK when the report says the NVDIMM files hold what survived, synced to
// disk ("nvdimm_sync": "ok"); otherwise an IoError naming the failed sync and the plugin's
// reason: such a cut is a lab failure, never a cut that succeeded. OK for an absent report
// (the model was off).
Status CheckCutSynced(const CutReport& report);

// DescribeLostLine is one line of text for people, the parts present when known, e.g.
//   lost nvdimm0+0x200040 (gpa 0x100200040) dirty, last store pc 0x401a2c in nvlab-litmus[123]
//   (litmus_store+0x1c)
// (one line; the process as comm[tgid], or comm[tgid thread pid] for another thread; comm
// escaped with EscapeUntrusted).
std::string DescribeLostLine(const LostLine& line);

}  // namespace nvlab

#endif  // NVLAB_CUT_REPORT_H_
