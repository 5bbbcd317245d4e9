// guest_task_reader.cc -- reading the guest kernel's current task through the page walk.
#include "guest_task_reader.h"

#include <cstring>

namespace nvlab::plugin {
namespace {

constexpr uint64_t kKernelHalf = 0xffff800000000000ULL;
constexpr uint64_t kPageSize = 4096;
// Linux pairs a kernel and a user top-level table in one 8 KiB block under page-table
// isolation; the user one (bit 12 set) maps almost nothing of the kernel.
constexpr uint64_t kIsolationUserBit = 1ULL << 12;
constexpr size_t kCommSize = 16;

// ReadWithinPage reads size bytes that lie in one page (vaddr's), 8 aligned bytes at a time.
bool ReadWithinPage(const PagingRegisters& regs, uint64_t vaddr, const PhysicalMemoryReader& memory,
                    uint8_t* out, size_t size) {
  uint64_t gpa = 0;
  if (TranslateVirtual(regs, vaddr, memory, &gpa) != WalkResult::kOk) return false;
  const uint64_t first_word = gpa & ~uint64_t{7};
  const uint64_t end = gpa + size;
  for (uint64_t word = first_word; word < end; word += 8) {
    uint64_t value = 0;
    if (!memory.Read64(word, &value)) return false;
    uint8_t bytes[8];
    std::memcpy(bytes, &value, sizeof bytes);
    for (unsigned i = 0; i < 8; ++i) {
      const uint64_t at = word + i;
      if (at >= gpa && at < end) out[at - gpa] = bytes[i];
    }
  }
  return true;
}

bool ReadVirtualOnce(const PagingRegisters& regs, uint64_t vaddr,
                     const PhysicalMemoryReader& memory, uint8_t* out, size_t size) {
  while (size > 0) {
    const uint64_t in_page = kPageSize - (vaddr & (kPageSize - 1));
    const size_t chunk = size < in_page ? size : static_cast<size_t>(in_page);
    if (!ReadWithinPage(regs, vaddr, memory, out, chunk)) return false;
    vaddr += chunk;
    out += chunk;
    size -= chunk;
  }
  return true;
}

}  // namespace

bool ReadVirtual(const PagingRegisters& regs, uint64_t vaddr, const PhysicalMemoryReader& memory,
                 void* out, size_t size) {
  if (vaddr + size < vaddr) return false;  // Wraps around the address space.
  auto* bytes = static_cast<uint8_t*>(out);
  if (ReadVirtualOnce(regs, vaddr, memory, bytes, size)) return true;
  if (!(regs.cr3 & kIsolationUserBit)) return false;
  PagingRegisters kernel = regs;
  kernel.cr3 &= ~kIsolationUserBit;
  return ReadVirtualOnce(kernel, vaddr, memory, bytes, size);
}

bool ReadCurrentTaskAddress(const KernelTaskLayout& layout, const PagingRegisters& regs,
                            uint64_t percpu_base, const PhysicalMemoryReader& memory,
                            uint64_t* task_address) {
  // Wrapping addition on purpose: kernels whose per-CPU section is not zero-based give an
  // offset that is itself a kernel address.
  const uint64_t slot = percpu_base + layout.current_task_offset;
  if (percpu_base < kKernelHalf || slot < kKernelHalf) return false;
  uint64_t value = 0;
  if (!ReadVirtual(regs, slot, memory, &value, sizeof value)) {
    return false;
  }
  if (value < kKernelHalf) return false;
  *task_address = value;
  return true;
}

bool ReadTask(const KernelTaskLayout& layout, const PagingRegisters& regs, uint64_t task_address,
              const PhysicalMemoryReader& memory, GuestTask* task) {
  GuestTask read;
  read.task_address = task_address;
  char comm[kCommSize] = {};
  if (!ReadVirtual(regs, task_address + layout.pid_offset, memory, &read.pid, sizeof read.pid) ||
      !ReadVirtual(regs, task_address + layout.tgid_offset, memory, &read.tgid, sizeof read.tgid) ||
      !ReadVirtual(regs, task_address + layout.comm_offset, memory, comm, sizeof comm)) {
    return false;
  }
  read.comm.assign(comm, strnlen(comm, sizeof comm));
  *task = std::move(read);
  return true;
}

}  // namespace nvlab::plugin
