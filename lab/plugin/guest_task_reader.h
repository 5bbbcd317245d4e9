// File: lab/plugin/guest_task_reader.h
//
// Which guest process is running: reads the Linux kernel's `current` task (pid, tgid, comm)
// from guest memory, for the cut report's "process" of a store. The layout of the guest
// kernel's data comes from the host (lab/host's kernel BTF reader, passed as the plugin's
// kernel-task= option): where the per-CPU pointer to the current task sits in the per-CPU
// area, and the offsets of comm, pid and tgid in struct task_struct.
//
// How: the per-CPU area's base is the kernel's GS base (GS_BASE in the kernel, KERNEL_GS_BASE
// while user code runs); base + current_task_offset holds the task_struct pointer; the fields
// are read through the page walk (page_walk.h) of the current address space. Under page-table
// isolation a user CR3 maps almost none of the kernel: its kernel twin (the same CR3 with bit
// 12 clear, as Linux pairs them) is tried when the first walk fails.
//
// Everything read is guest data, untrusted: the comm is kept as the 16 raw bytes up to the
// first NUL (the report escapes it); any unreadable address gives "unknown", never a crash.
//
// Thread-safety: pure functions; the reader must be safe for the caller's use.

#ifndef NVLAB_PLUGIN_GUEST_TASK_READER_H_
#define NVLAB_PLUGIN_GUEST_TASK_READER_H_

#include <cstdint>
#include <string>

#include "page_walk.h"

namespace nvlab::plugin {

// KernelTaskLayout: where the guest kernel keeps what ReadCurrentTask reads.
struct KernelTaskLayout {
  uint64_t current_task_offset = 0;  // Of the current-task pointer in the per-CPU area.
  uint32_t comm_offset = 0;          // struct task_struct: char comm[16].
  uint32_t pid_offset = 0;           // pid_t pid.
  uint32_t tgid_offset = 0;          // pid_t tgid.
};

// GuestTask is what the report says about a process.
struct GuestTask {
  uint64_t task_address = 0;  // Kernel address of its task_struct (identity while it lives).
  int32_t pid = 0;            // The thread's id.
  int32_t tgid = 0;           // The process id (thread-group leader's pid).
  std::string comm;           // Up to 15 bytes, as the kernel keeps them (guest-controlled).
};

// ReadVirtual copies size bytes at guest virtual address vaddr into out, translating each page
// with regs; false if any part cannot be translated or read.
bool ReadVirtual(const PagingRegisters& regs, uint64_t vaddr, const PhysicalMemoryReader& memory,
                 void* out, size_t size);

// ReadCurrentTaskAddress reads the current task pointer of the CPU whose per-CPU area starts at
// percpu_base; false when unreadable or not a kernel address. *task_address is written only on
// success.
bool ReadCurrentTaskAddress(const KernelTaskLayout& layout, const PagingRegisters& regs,
                            uint64_t percpu_base, const PhysicalMemoryReader& memory,
                            uint64_t* task_address);

// ReadTask reads pid, tgid and comm of the task_struct at task_address; false when unreadable.
// *task is written only on success.
bool ReadTask(const KernelTaskLayout& layout, const PagingRegisters& regs, uint64_t task_address,
              const PhysicalMemoryReader& memory, GuestTask* task);

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_GUEST_TASK_READER_H_
