// File: nvlab/model_plugin_argument.h
//
// The persistence model is nvlab-plugin.so, a QEMU TCG plugin configured entirely by its -plugin
// value: "FILE,nvdimm=...,ram=...,persistence=...,on-cut=...,report=...,control=...". This is the
// one place that value is written, for both of nvlab's launchers: Guest (nvlab boots QEMU itself
// and knows the guest-RAM files) and the libvirt domain XML (libvirt names the RAM files at
// start, so the value has no ram= and the emulator wrapper nvlab-qemu adds it;
// docs/design/libvirt.md). The plugin's side of the syntax is lab/plugin/plugin_options.h.
//
// Paths are written as QEMU's option syntax needs them: a ',' doubled.
//
// Thread-safety: plain values and a pure function.

#ifndef NVLAB_MODEL_PLUGIN_ARGUMENT_H_
#define NVLAB_MODEL_PLUGIN_ARGUMENT_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "nvlab/formats/kernel_task_layout.h"
#include "nvlab/machine.h"

namespace nvlab {

// ModelConfig says whether and how the persistence model (the TCG plugin) is loaded.
struct ModelConfig {
  bool enabled = false;
  std::filesystem::path plugin;   // nvlab-plugin.so
  std::string on_cut = "lose";    // lose | keep | random:SEED[:P]
  uint64_t cut_after_fences = 0;  // 0: no automatic cut
  // trace_stores: off | user | on. Store callbacks that record each NVDIMM line's last store
  // (PC, CR3) for the cut report: "user" only in user-space code, "on" everywhere (costly).
  std::string trace_stores = "off";
  // Crash-state exploration (docs/design/exploration.md). record: the plugin writes a recording
  // of the window between the guest's recording marks to this file (empty: none).
  // watch_loads: the plugin notes the NVDIMM lines the guest loads between the control
  // socket's watch-begin and watch-end (the guest that checks crash states).
  std::filesystem::path record;
  bool watch_loads = false;
};

// ModelPluginFiles are the files of one boot the plugin opens or makes.
struct ModelPluginFiles {
  std::vector<std::filesystem::path> nvdimm_files;  // one per Machine::nvdimms, same order
  // ram_files: one per NUMA node, in node order; empty: no ram= (the emulator wrapper adds it).
  std::vector<std::filesystem::path> ram_files;
  std::filesystem::path report;          // the cut report the plugin writes
  std::filesystem::path control_socket;  // where the plugin listens for "cut"
};

// ModelPluginArgument is the -plugin value for `machine` with `model` (model.enabled is not
// consulted: the caller decides whether to pass -plugin at all). kernel_task_layout, when
// present, lets traced stores name the guest process behind them.
std::string ModelPluginArgument(const Machine& machine, const ModelConfig& model,
                                const ModelPluginFiles& files,
                                const std::optional<KernelTaskLayout>& kernel_task_layout);

}  // namespace nvlab

#endif  // NVLAB_MODEL_PLUGIN_ARGUMENT_H_
