// File: lab/plugin/qemu_plugin_api.h
//
// nvlab's own declarations of the part of QEMU's TCG plugin API (version 4, as exported by
// QEMU 10.0's qemu-system binaries) that nvlab-plugin.so uses. Debian ships no qemu-plugin.h,
// so the project declares what it calls, written from QEMU's documented API ("TCG Plugins" in
// QEMU's developer manual). Every function below is resolved at load time against the QEMU
// binary; check the list with `nm -D $(command -v qemu-system-x86_64) | grep qemu_plugin_`.
//
// Lifetime rules that matter (from the documentation): handles for translation blocks and
// instructions are valid only inside the translation callback; a `userdata` pointer given at
// registration must stay valid as long as code translated with it can run; register handles
// come from qemu_plugin_get_registers(), which must be called from a vCPU context (e.g. the
// vCPU-init callback); registers may be read only in callbacks registered with
// QEMU_PLUGIN_CB_R_REGS or QEMU_PLUGIN_CB_RW_REGS.

#ifndef NVLAB_PLUGIN_QEMU_PLUGIN_API_H_
#define NVLAB_PLUGIN_QEMU_PLUGIN_API_H_

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#define NVLAB_QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

// The plugin API version this declaration set follows (QEMU 10.0 offers 2..4).
#define NVLAB_QEMU_PLUGIN_API_VERSION 4

extern "C" {

typedef uint64_t qemu_plugin_id_t;

// What QEMU tells qemu_plugin_install about itself.
typedef struct qemu_info_t {
  const char* target_name;  // e.g. "x86_64"
  struct {
    int min;
    int cur;
  } version;              // Plugin API versions QEMU supports.
  bool system_emulation;  // false under user-mode emulation.
  union {
    struct {
      int smp_vcpus;
      int max_vcpus;
    } system;
  };
} qemu_info_t;

struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_plugin_hwaddr;
struct qemu_plugin_register;

// Opaque description of one memory access, passed to memory callbacks.
typedef uint32_t qemu_plugin_meminfo_t;

// The value a memory access loaded or stored (qemu_plugin_mem_get_value), as a number in the
// host's byte order; its type follows the access's size.
enum qemu_plugin_mem_value_type {
  QEMU_PLUGIN_MEM_VALUE_U8,
  QEMU_PLUGIN_MEM_VALUE_U16,
  QEMU_PLUGIN_MEM_VALUE_U32,
  QEMU_PLUGIN_MEM_VALUE_U64,
  QEMU_PLUGIN_MEM_VALUE_U128,
};
typedef struct {
  enum qemu_plugin_mem_value_type type;
  union {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    struct {
      uint64_t low;
      uint64_t high;
    } u128;
  } data;
} qemu_plugin_mem_value;

// Whether a callback may read (or write) guest registers.
enum qemu_plugin_cb_flags {
  QEMU_PLUGIN_CB_NO_REGS = 0,
  QEMU_PLUGIN_CB_R_REGS = 1,
  QEMU_PLUGIN_CB_RW_REGS = 2,
};

// Which accesses a memory callback wants.
enum qemu_plugin_mem_rw {
  QEMU_PLUGIN_MEM_R = 1,
  QEMU_PLUGIN_MEM_W = 2,
  QEMU_PLUGIN_MEM_RW = 3,
};

// One entry of the array qemu_plugin_get_registers() returns.
typedef struct {
  struct qemu_plugin_register* handle;
  const char* name;     // gdb's register name, e.g. "rax", "cr3", "fs_base".
  const char* feature;  // gdb feature the register belongs to.
} qemu_plugin_reg_descriptor;

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);
typedef void (*qemu_plugin_vcpu_simple_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void* userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                                          uint64_t vaddr, void* userdata);

// Exported by the plugin: the API version it was built for, and its entry point (argv holds
// the plugin's key=value options; a non-zero return makes QEMU refuse to start).
NVLAB_QEMU_PLUGIN_EXPORT extern int qemu_plugin_version;
NVLAB_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info,
                                                 int argc, char** argv);

// Registration.
void qemu_plugin_register_vcpu_init_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn* insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void* userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn* insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw,
                                      void* userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void* userdata);

// Translation-time queries (valid inside the translation callback only).
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
struct qemu_plugin_insn* qemu_plugin_tb_get_insn(const struct qemu_plugin_tb* tb, size_t idx);
// Copies min(len, instruction size) bytes of the instruction into dest; returns that count.
size_t qemu_plugin_insn_data(const struct qemu_plugin_insn* insn, void* dest, size_t len);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn* insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn* insn);

// Memory-callback queries (valid inside the memory callback only).
unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info);  // log2 of the size
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);
// The value the access loaded or stored (accesses of up to 16 bytes).
qemu_plugin_mem_value qemu_plugin_mem_get_value(qemu_plugin_meminfo_t info);
// System emulation: the physical side of the access (null when unknown).
struct qemu_plugin_hwaddr* qemu_plugin_get_hwaddr(qemu_plugin_meminfo_t info, uint64_t vaddr);
bool qemu_plugin_hwaddr_is_io(const struct qemu_plugin_hwaddr* haddr);
uint64_t qemu_plugin_hwaddr_phys_addr(const struct qemu_plugin_hwaddr* haddr);

// Registers (see the lifetime rules above). qemu_plugin_read_register appends the register's
// bytes (target byte order) to buf and returns their count, or -1.
GArray* qemu_plugin_get_registers(void);
int qemu_plugin_read_register(struct qemu_plugin_register* handle, GByteArray* buf);

// Miscellaneous.
int qemu_plugin_num_vcpus(void);
void qemu_plugin_outs(const char* string);  // To QEMU's log (-d plugin), not to stderr.

}  // extern "C"

#endif  // NVLAB_PLUGIN_QEMU_PLUGIN_API_H_
