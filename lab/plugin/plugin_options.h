// File: lab/plugin/plugin_options.h
//
// The options of nvlab-plugin.so, as QEMU hands them over (`-plugin FILE,key=value,...`: one
// argv entry per key=value). Parsing is separate from the plugin so that it is tested without
// QEMU; the plugin prints the error sentence on one stderr line and refuses to install.
//
//   nvdimm=<index>:<gpa-base-hex>:<size-bytes>:<path>   repeatable, indexes 0..n-1, required
//   ram=<gpa-base-hex>:<size-bytes>:<path>              repeatable: file-backed guest RAM
//                                                       (share=on), read for page walks
//   persistence=adr|eadr                                default adr
//   on-cut=lose|keep|random:SEED[:P]                    default lose
//   report=<path>                                       the cut report (JSON); default none
//   control=<path>                                      unix socket for host cuts; default none
//   cut-after-fences=<N>                                N >= 1; default off
//   trace-stores=off|user|on                            default off; on = every store (also
//                                                       yes/true), user = stores by user-space
//                                                       code only (PC < 0x800000000000)
//   kernel-task=<current-task>:<comm>:<pid>:<tgid>      the guest kernel's layout
//                                                       (guest_task_reader.h): names the
//                                                       process of traced stores; optional
//   record=<path>                                       write a recording of the window
//                                                       between the guest's recording marks
//                                                       (nvrtl/nvlab_recording_marker.h) to
//                                                       <path>; implies a callback on every
//                                                       store (as trace-stores=on); default
//                                                       none
//   watch-loads=off|on                                  default off; on = the check guest of
//                                                       crash-state exploration: no model, a
//                                                       callback on every load, watch-begin /
//                                                       watch-end on the control socket
// Numbers: the base is hexadecimal with or without 0x; sizes and N are decimal or 0x-hex.
// A path may contain ':' (only the first separators split). Every NVDIMM's base and size must
// be multiples of 64 and the NVDIMMs must not overlap (checked when the model is built).
// watch-loads=on keeps no persistence model, so it refuses the options that need one:
// record=, cut-after-fences= and trace-stores=user|on (persistence=, on-cut= and report= are
// accepted and unused: the host's power cuts answer an error in that mode).
//
// Thread-safety: plain values and pure functions.

#ifndef NVLAB_PLUGIN_PLUGIN_OPTIONS_H_
#define NVLAB_PLUGIN_PLUGIN_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guest_task_reader.h"
#include "nvlab/model/cut_policy.h"

namespace nvlab::plugin {

struct NvdimmOption {
  uint32_t index = 0;
  uint64_t base = 0;  // Guest-physical address of its first byte.
  uint64_t size = 0;  // Bytes, as mapped from the start of the file.
  std::string path;   // The memory-backend-file's mem-path.
};

struct RamOption {
  uint64_t base = 0;
  uint64_t size = 0;
  std::string path;
};

struct PluginOptions {
  std::vector<NvdimmOption> nvdimms;  // Sorted by index after ParsePluginArguments.
  std::vector<RamOption> ram;
  model::Platform persistence = model::Platform::kAdr;
  model::CutPolicy on_cut;
  std::string on_cut_text = "lose";
  std::string report_path;
  std::string control_path;
  uint64_t cut_after_fences = 0;  // 0: off.
  // Which storing instructions get a memory callback that records their PC for the report.
  enum class TraceStores { kOff, kUser, kAll };
  TraceStores trace_stores = TraceStores::kOff;
  // Where the guest kernel keeps the current task; without it stores name no process.
  std::optional<KernelTaskLayout> kernel_task;
  // The recording to write (crash-state exploration); empty: none.
  std::string record_path;
  // The check guest's mode: watch the NVDIMM lines loads read, keep no model.
  bool watch_loads = false;
};

// ParsePluginArguments parses every argument and checks them together (at least one NVDIMM,
// indexes 0..n-1 each once). On failure returns false with one sentence in *error naming the
// offending option, e.g. "nvlab-plugin: unknown option 'foo=1'".
bool ParsePluginArguments(const std::vector<std::string_view>& args, PluginOptions* options,
                          std::string* error);

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_PLUGIN_OPTIONS_H_
