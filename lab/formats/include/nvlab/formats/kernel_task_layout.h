// File: nvlab/formats/kernel_task_layout.h
//
// The layout of the guest kernel's running-task pointer and task fields, as the kernel's own
// type information (BTF) gives it: what the QEMU plugin needs to name the process behind a
// store. FindKernelTaskLayout (kernel_btf.h) produces it; the image manifest records it.
//
// Thread-safety: a plain value.

#ifndef NVLAB_FORMATS_KERNEL_TASK_LAYOUT_H_
#define NVLAB_FORMATS_KERNEL_TASK_LAYOUT_H_

#include <cstdint>

namespace nvlab {

// KernelTaskLayout says where the image's kernel build keeps the task running on a CPU and three
// fields of a task, as its own type information (BTF) says; the QEMU plugin uses it to name the
// process behind a store. In kernel mode, the running task is
//   *(struct task_struct**)(per-CPU base + current_task_percpu_offset)
// where the per-CPU base is the CPU's GS base (KERNEL_GS_BASE while in user mode).
struct KernelTaskLayout {
  // current_task_percpu_offset is the address of the per-CPU pointer to the running
  // task_struct relative to a CPU's per-CPU base: the per-CPU variable current_task (Linux 6.1,
  // and 6.15 on) or the member current_task of the per-CPU variable pcpu_hot (6.2 to 6.14). It
  // is the variable's offset in .data..percpu plus that section's link address, which is 0
  // where the per-CPU section is zero-based (x86-64 up to 6.14); later kernels link it at a
  // kernel address, so the value can exceed 2^32.
  std::uint64_t current_task_percpu_offset = 0;
  std::uint32_t task_comm_offset = 0;  // struct task_struct: comm, char[16], NUL-padded name
  std::uint32_t task_pid_offset = 0;   // pid (pid_t, 32 bits): the thread's id
  std::uint32_t task_tgid_offset = 0;  // tgid (pid_t): the thread group's (process's) id

  bool operator==(const KernelTaskLayout&) const = default;
};

}  // namespace nvlab

#endif  // NVLAB_FORMATS_KERNEL_TASK_LAYOUT_H_
