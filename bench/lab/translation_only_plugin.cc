// translation_only_plugin.cc -- a QEMU TCG plugin that only asks to see translated blocks:
// what any plugin-based persistence model pays before it does any work of its own.
//
// Registering a translation callback makes QEMU instrument every block it translates for
// plugins (placeholder ops at each instruction and memory access, the callback, then the
// removal of the unused placeholders before code generation), whatever the callback does.
// nvlab-plugin.so needs that callback to find flushes, fences and non-temporal stores, so this
// cost is a floor under the model's: nvlab-bench's "floor" configuration runs the lab with this
// module in place of nvlab-plugin.so (BENCHMARKS.md, "The plugin floor").
//
// It takes nvlab-plugin.so's arguments and ignores them. It models nothing and has no control
// socket: `nvlab run` works with it, a power cut does not.

#include "qemu_plugin_api.h"

NVLAB_QEMU_PLUGIN_EXPORT int qemu_plugin_version = NVLAB_QEMU_PLUGIN_API_VERSION;

namespace {

// SeeBlock is the translation callback; its being registered is the point, not its work.
void SeeBlock(qemu_plugin_id_t /*id*/, qemu_plugin_tb* /*tb*/) {}

}  // namespace

NVLAB_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* /*info*/,
                                                 int /*argc*/, char** /*argv*/) {
  qemu_plugin_register_vcpu_tb_trans_cb(id, SeeBlock);
  return 0;
}
