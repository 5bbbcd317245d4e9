// File: lab/plugin/cut_report_json.h
//
// The power-cut report the plugin writes (format version 1, documented field by field in
// docs/formats/cut-report.md): one JSON object with the trigger, platform, policy, the NVDIMMs,
// the lost lines (capped, with a count of all of them) and totals. Addresses and offsets are
// hex strings ("0x1040": 64-bit values do not fit JSON numbers everywhere); counts are numbers.
// Strings are byte strings (a guest process's name is any bytes): each byte is written as the
// character of the same number, escaped when it is a control or non-ASCII byte.
//
// Thread-safety: pure functions. Errors: they throw nothing but std::bad_alloc, whatever bytes
// the strings hold (the plugin catches that at its C boundary).

#ifndef NVLAB_PLUGIN_CUT_REPORT_JSON_H_
#define NVLAB_PLUGIN_CUT_REPORT_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "guest_task_reader.h"
#include "nvlab/model/persistence_domain.h"
#include "nvlab/model/power_cut_report.h"
#include "plugin_options.h"

namespace nvlab::plugin {

// KernelCompletion is a fence in guest kernel code (an interrupt, exception or system call
// handler's locked or serializing instruction) that completed flushes or non-temporal stores
// user-space code had left pending on that CPU. Hardware does the same, so a line its program
// never fenced can survive: the report says where that happened.
struct KernelCompletion {
  uint64_t fence_pc = 0;  // The kernel instruction that completed the work.
  uint64_t user_pc = 0;   // The first user-space flush or NT store it completed.
};

struct CutReportInput {
  std::string trigger;      // "host", "guest" or "fences".
  std::string policy_text;  // As given (on-cut=...).
  const model::PowerCutReport* cut = nullptr;
  model::DomainCounters counters;
  const std::vector<NvdimmOption>* nvdimms = nullptr;
  uint64_t lines_rewritten = 0;
  uint64_t unresolved_flushes = 0;
  std::vector<uint64_t> unresolved_flush_pcs;  // A few samples.
  uint64_t translated_flushes = 0;
  // Processes a lost line's StoreSite::context names (context - 1 indexes this); may be null.
  const std::vector<GuestTask>* processes = nullptr;
  uint64_t kernel_completions = 0;                          // All of them (KernelCompletion).
  std::vector<KernelCompletion> kernel_completion_samples;  // The first few.
  // Why the NVDIMM backing files could not be synced (msync/fsync) after the cut; empty when
  // they were: the report's "nvdimm_sync" ("ok" or "failed") and "nvdimm_sync_error".
  std::string nvdimm_sync_error;
};

// FormatCutReportJson returns the report as one JSON document ending in a newline.
std::string FormatCutReportJson(const CutReportInput& input);

// JsonString returns the bytes of text as a quoted JSON string: " and \ escaped, control bytes
// as \b \t \n \f \r or \u00XX, bytes 0x7f..0xff as \u007f..\u00ff, so that any bytes give
// valid ASCII JSON from which a reader gets them back (U+0000..U+00FF, one per byte).
std::string JsonString(const std::string& text);

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_CUT_REPORT_JSON_H_
