// File: nvlab/model/power_cut_report.h
//
// PowerCutReport is what PersistenceDomain::PowerCut returns: every NVDIMM line whose
// surviving content differs from what the CPUs saw at the cut (a lost line), and totals.
// A line is listed once, with the reason it was not guaranteed:
//   wc-buffer      some lost byte was written by a non-temporal store not yet fenced;
//   flush-pending  else, a CLWB/CLFLUSHOPT of the line was waiting for a fence;
//   dirty          else: stored to and never flushed.
// A store that wrote the value the media already held changes nothing and is not listed.
//
// Thread-safety: a plain value.

#ifndef NVLAB_MODEL_POWER_CUT_REPORT_H_
#define NVLAB_MODEL_POWER_CUT_REPORT_H_

#include <cstdint>
#include <vector>

#include "nvlab/model/cache_line.h"
#include "nvlab/model/cut_policy.h"

namespace nvlab::model {

// StoreSite is where a store came from, when the caller knows it (recording mode, unit tests).
struct StoreSite {
  uint64_t pc = 0;   // Guest virtual address of the storing instruction.
  uint64_t cr3 = 0;  // Address space (CR3) it ran in; 0 when unknown.
  // The caller's tag for who ran it (the plugin: 1 + an index in its table of guest
  // processes); 0 when unknown. The model only carries it.
  uint32_t context = 0;
};

struct LostLine {
  uint32_t nvdimm = 0;  // Index of the NVDIMM, in AddNvdimm order.
  uint64_t offset = 0;  // Offset of the line in that NVDIMM (= in its backing file).
  uint64_t gpa = 0;     // Guest-physical address of the line.
  LineState state = LineState::kDirty;
  bool site_known = false;  // The last store to the line was reported with a StoreSite.
  StoreSite last_store;
};

struct PowerCutReport {
  Platform platform = Platform::kAdr;
  CutPolicy policy;
  std::vector<LostLine> lost;  // Sorted by gpa; at most the cap PowerCut was given.
  uint64_t lost_lines = 0;     // All lost lines, listed or not.
  uint64_t lost_dirty = 0;
  uint64_t lost_flush_pending = 0;
  uint64_t lost_wc_buffer = 0;
};

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_POWER_CUT_REPORT_H_
