// guest_task_fuzzer.cc -- libFuzzer target over the plugin's reader of the guest kernel's
// current task (lab/plugin/guest_task_reader.h): the per-CPU pointer, the task_struct and its
// comm are guest data, and so are the page tables they are read through.
// The input is the layout (current-task offset: 8 bytes; comm, pid, tgid offsets: 4 each), CR0,
// CR3, CR4, EFER, the per-CPU base, a length for a plain ReadVirtual (8 bytes each), then the
// guest's physical memory (forged_guest_memory.h).
// Checks, besides ASan/UBSan: reads are 8-byte aligned; a task address is written only on
// success, and is a kernel address; a task is written only on success, with a comm of at most
// 16 bytes and no NUL; ReadVirtual never writes past its buffer (ASan: the buffer is exact).
//
// Run: build/fuzz/fuzz/lab/guest_task_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "forged_guest_memory.h"
#include "guest_task_reader.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  (void)std::fprintf(stderr, "%s\n", what);
  std::abort();
}

constexpr uint64_t kUntouched = 0x5a5a5a5a5a5a5a5aull;

void CheckRead(const nvlab::plugin::KernelTaskLayout& layout,
               const nvlab::plugin::PagingRegisters& regs, uint64_t task_address,
               const nvlab::fuzz::ForgedGuestMemory& memory) {
  nvlab::plugin::GuestTask task;
  task.task_address = kUntouched;
  task.comm = "untouched";
  if (!nvlab::plugin::ReadTask(layout, regs, task_address, memory, &task)) {
    if (task.task_address != kUntouched || task.comm != "untouched") Fail("a failed read wrote");
    return;
  }
  if (task.comm.size() > 16 || task.comm.find('\0') != std::string::npos) Fail("a bad comm");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nvlab::fuzz::TakeWord;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  nvlab::plugin::KernelTaskLayout layout;
  layout.current_task_offset = TakeWord(&input);
  const uint64_t offsets = TakeWord(&input);
  layout.comm_offset = static_cast<uint32_t>(offsets);
  layout.pid_offset = static_cast<uint32_t>(offsets >> 32);
  layout.tgid_offset = static_cast<uint32_t>(TakeWord(&input));
  nvlab::plugin::PagingRegisters regs;
  regs.cr0 = TakeWord(&input);
  regs.cr3 = TakeWord(&input);
  regs.cr4 = TakeWord(&input);
  regs.efer = TakeWord(&input);
  const uint64_t percpu_base = TakeWord(&input);
  const size_t length = TakeWord(&input) % 9000;  // up to three pages and a bit
  const nvlab::fuzz::ForgedGuestMemory memory(input);

  uint64_t task_address = kUntouched;
  if (nvlab::plugin::ReadCurrentTaskAddress(layout, regs, percpu_base, memory, &task_address)) {
    if (task_address < 0xffff800000000000ull) Fail("a task outside the kernel half");
    CheckRead(layout, regs, task_address, memory);
  } else if (task_address != kUntouched) {
    Fail("a failed read wrote the task address");
  }
  CheckRead(layout, regs, percpu_base, memory);
  const std::unique_ptr<unsigned char[]> buffer(new unsigned char[length + 1]);
  (void)nvlab::plugin::ReadVirtual(regs, percpu_base, memory, buffer.get(), length);
  return 0;
}
