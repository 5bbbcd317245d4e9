// model_plugin_argument.cc -- ModelPluginArgument.

#include "nvlab/model_plugin_argument.h"

#include "nvlab/hex.h"
#include "nvlab/qemu_command_line.h"

namespace nvlab {
namespace {

// Guest RAM starts at guest-physical 0; node n's part follows the earlier nodes' parts.
constexpr uint64_t kRamBase = 0;

}  // namespace

std::string ModelPluginArgument(const Machine& machine, const ModelConfig& model,
                                const ModelPluginFiles& files,
                                const std::optional<KernelTaskLayout>& kernel_task_layout) {
  std::string arg = QemuOptionValue(model.plugin);
  for (size_t i = 0; i < files.nvdimm_files.size() && i < machine.nvdimms.size(); ++i) {
    arg += ",nvdimm=" + std::to_string(i) + ":" + FormatHex(machine.NvdimmBase(i)) + ":" +
           std::to_string(machine.nvdimms[i].size) + ":" + QemuOptionValue(files.nvdimm_files[i]);
  }
  const uint64_t node_ram = machine.memory / static_cast<uint64_t>(machine.numa_nodes);
  for (size_t n = 0; n < files.ram_files.size(); ++n) {
    arg += ",ram=" + FormatHex(kRamBase + n * node_ram) + ":" + std::to_string(node_ram) + ":" +
           QemuOptionValue(files.ram_files[n]);
  }
  arg += ",persistence=";
  arg += ToString(machine.persistence);
  arg += ",on-cut=" + model.on_cut;
  arg += ",report=" + QemuOptionValue(files.report);
  arg += ",control=" + QemuOptionValue(files.control_socket);
  if (model.trace_stores != "off") arg += ",trace-stores=" + model.trace_stores;
  if (!model.record.empty()) arg += ",record=" + QemuOptionValue(model.record);
  if (model.watch_loads) arg += ",watch-loads=on";
  if (model.cut_after_fences != 0) {
    arg += ",cut-after-fences=" + std::to_string(model.cut_after_fences);
  }
  if (kernel_task_layout) {
    const KernelTaskLayout& k = *kernel_task_layout;
    arg += ",kernel-task=" + FormatHex(k.current_task_percpu_offset) + ":" +
           std::to_string(k.task_comm_offset) + ":" + std::to_string(k.task_pid_offset) + ":" +
           std::to_string(k.task_tgid_offset);
  }
  return arg;
}

}  // namespace nvlab
