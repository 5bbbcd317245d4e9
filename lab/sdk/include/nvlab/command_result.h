// File: nvlab/command_result.h
//
// What the SDK's calls give back: CommandResult for one command in a guest, PowerCycleOutcome for
// a power-cycle (the command before the cut, the cut, the command after). Part of the SDK
// (nvlab::nvlab, docs/design/sdk.md).
//
// The guest's output is untrusted bytes (any byte, any length up to the guest's whole output).
//
// Thread-safety: plain values.

#ifndef NVLAB_SDK_COMMAND_RESULT_H_
#define NVLAB_SDK_COMMAND_RESULT_H_

#include <string>

#include "nvlab/power_cut_report.h"

namespace nvlab {

struct CommandResult {
  // out and err: the command's stdout and stderr, byte for byte.
  std::string out;
  std::string err;
  // exit_status is what a shell reports: the exit code, or exit_status::kSignalBase + N for a
  // command killed by signal N (then signaled is true). Meaningless when cut_by_guest.
  int exit_status = 0;
  bool signaled = false;
  // cut_by_guest: the command cut the power itself (NvLabPowerCut, or the model's
  // cut-after-fences): it never returned, and `cut` is the model's report of that cut.
  bool cut_by_guest = false;
  PowerCutReport cut;
  std::string nvlab_pmem;  // the guest's NVLAB_PMEM (the first NVDIMM)
  double boot_seconds = 0;
  double command_seconds = 0;
};

struct PowerCycleOutcome {
  std::string machine;
  std::string persistence;  // adr | eadr
  bool model = false;       // the persistence model was loaded
  std::string on_cut;       // the policy; "keep (no model)" with the model off
  CommandResult before;
  PowerCutReport cut;  // absent (present false) with the model off
  CommandResult after;
};

}  // namespace nvlab

#endif  // NVLAB_SDK_COMMAND_RESULT_H_
