// File: nvlab/power_cut_report.h
//
// PowerCutReport is the persistence model's account of one power cut as the SDK gives it: which
// NVDIMM lines the cut changed ("lost"), where (NVDIMM index and offset, the same offsets as in
// the NVDIMM's backing file and in the guest's NVLAB_PMEM device or file), what state each was in,
// and who stored last when the model knew it. The fields follow the report the plugin writes
// (docs/formats/cut-report.md, format version 1); `json` is that document itself.
//
// Every string comes from the plugin or the guest (a process's name): untrusted, print it only
// escaped. Part of the SDK (nvlab::nvlab, docs/design/sdk.md).
//
// Thread-safety: plain values and const member functions.

#ifndef NVLAB_SDK_POWER_CUT_REPORT_H_
#define NVLAB_SDK_POWER_CUT_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nvlab {

// LostLineState is why a line's last stores did not reach the media.
enum class LostLineState {
  kDirty,         // stored, never flushed (or flushed without the fence that completes it)
  kFlushPending,  // flushed, the fence that orders the write-back not reached
  kWcBuffer,      // a non-temporal store still in a write-combining buffer
};

// PowerCutLine is one 64-byte NVDIMM line the cut changed.
struct PowerCutLine {
  uint64_t nvdimm = 0;  // the NVDIMM's index (NVLAB_PMEM0, NVLAB_PMEM1, ...)
  uint64_t offset = 0;  // in the NVDIMM, a multiple of 64
  uint64_t gpa = 0;     // guest-physical address
  LostLineState state = LostLineState::kDirty;
  // The last store to the line, when the model knew it (--trace-stores, a non-temporal store).
  std::optional<uint64_t> pc;
  std::string process;  // the guest task's name (comm), empty when unknown
  int64_t pid = 0;      // its process id (tgid), 0 when unknown
  std::string symbol;   // "function+0xoff" when nvlab could name the code, else empty
  // description is the line as nvlab prints it, e.g. "lost nvdimm0+0x200040 (gpa 0x100200040)
  // dirty, last store pc 0x401a2c in counter[123]".
  std::string description;

  // Covers is true when the line holds any byte of [offset, offset + length) of `nvdimm`.
  bool Covers(uint64_t nvdimm_index, uint64_t byte_offset, uint64_t length = 1) const;
};

// PowerCutNvdimm is an NVDIMM as the model saw it.
struct PowerCutNvdimm {
  uint64_t index = 0;
  uint64_t gpa = 0;
  uint64_t size = 0;
  std::string path;  // its backing file on the host (gone once the guest is)
};

struct PowerCutReport {
  // present: the model was on and wrote a report. With the model off a cut keeps everything the
  // guest stored and there is no report.
  bool present = false;
  std::string trigger;      // host | guest (NvLabPowerCut) | fences
  std::string persistence;  // adr | eadr
  std::string policy;       // lose | keep | random: what became of the lines whose fate was open
  std::string policy_text;  // the on-cut policy as given, e.g. "random:7:0.5"
  // lost_lines counts every line the cut changed; `lines` lists the first 1000 by address.
  uint64_t lost_lines = 0;
  std::vector<PowerCutLine> lines;
  std::vector<PowerCutNvdimm> nvdimms;
  // Counts of the run up to the cut.
  uint64_t stores = 0;
  uint64_t nt_stores = 0;
  uint64_t flushes = 0;
  uint64_t fences = 0;
  // unresolved_flushes: flushes whose address the model could not translate: the NVDIMM may hold
  // less than the program made durable.
  uint64_t unresolved_flushes = 0;
  std::string json;  // the report as the plugin wrote it, compact

  // LostAt is true when a listed lost line holds any byte of [offset, offset + length) of
  // NVDIMM `nvdimm`.
  bool LostAt(uint64_t nvdimm, uint64_t offset, uint64_t length = 1) const;
  // LinesAt gives the listed lost lines that hold a byte of that range.
  std::vector<PowerCutLine> LinesAt(uint64_t nvdimm, uint64_t offset, uint64_t length = 1) const;
  // Summary is the cut as text for people, one lost line a line (at most `max_lines`, then how
  // many more); "no power-cut report (the model was off)" when absent.
  std::string Summary(size_t max_lines = 20) const;
};

// LostLineStateName gives "dirty", "flush-pending" or "wc-buffer", as in the report.
const char* LostLineStateName(LostLineState state);

}  // namespace nvlab

#endif  // NVLAB_SDK_POWER_CUT_REPORT_H_
