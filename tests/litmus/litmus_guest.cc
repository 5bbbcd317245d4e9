// litmus_guest.cc -- nvlab-litmus, a guest program that runs every row of the persistence
// model's litmus table (docs/design/persistence-model.md) with exact instruction sequences,
// then cuts the power itself (NvLabPowerCut). After the next boot, `nvlab-litmus check` prints
// what each row's line holds. The host test (litmus_test.cc) owns the expectations.
//
//   nvlab-litmus run DEVICE     write every row, cut the power (exit 3 if the cut returned)
//   nvlab-litmus check DEVICE   print "litmus ROW=VALUE" per row, VALUE one of
//                               none | first | second | torn
//   nvlab-litmus remap DEVICE   flush through one virtual address while its mapping changes
//                               (the plugin's translation cache must follow), then cut
//   nvlab-litmus remap-check DEVICE   print "litmus remap-PAGE=VALUE" per page remap wrote
//
// Each row uses its own 4 KiB page of the devdax mapping (so no row shares a line or a page
// mapping with another). Rows that must complete run first; rows whose flushes or non-temporal
// stores must stay pending run last, after the final fence, with no system call in between.

#include <asm/prctl.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "nvrtl/nvrtl.h"

namespace {

constexpr uint64_t kFirst = 0x1111111111111111ull;
constexpr uint64_t kSecond = 0x2222222222222222ull;
constexpr size_t kRowStride = 4096;

// The rows in table order; the index is the row's page.
constexpr const char* kRows[] = {
    "store",                       // store A
    "store-clwb",                  // store A; CLWB A                      (pending at the cut)
    "store-clwb-sfence",           // store A; CLWB A; SFENCE
    "store-clflush",               // store A; CLFLUSH A
    "store-clflushopt-mfence",     // store A; CLFLUSHOPT A; MFENCE
    "store-clwb-lock",             // store A; CLWB A; LOCK ADD [stack]
    "store-clwb-other-cpu-fence",  // CLWB A on cpu 0; SFENCEs on cpu 1 only (pending)
    "store1-clwb-store2-sfence",   // store A=1; CLWB A; store A=2; SFENCE
    "movnti",                      // MOVNTI A                             (pending at the cut)
    "movnti-sfence",               // MOVNTI A; SFENCE
    "two-lines-a",                 // store A, store B; CLWB A; SFENCE: A
    "two-lines-b",                 //   ... and B
    "store-clwb-xchg",             // store A; CLWB A; XCHG [stack]
    "store-clwb-cpuid",            // store A; CLWB A; CPUID (serializing)
    "clwb-base-index-disp",        // CLWB through [base + index*8 + disp32]
    "clwb-index-disp",             // CLWB through [index*8 + disp32] (no base)
    "clwb-base-disp8",             // CLWB through [base + disp8]
    "clwb-gs-segment",             // CLWB through GS:[base] (GS base = the mapping)
    "clflushopt-sib-scale2",       // CLFLUSHOPT through [base + index*2]; SFENCE
    "movntdq-sfence",              // MOVNTDQ xmm; SFENCE
    "store-clwb-syscall",          // store A; CLWB A; sched_yield (the kernel's fences)
};
constexpr size_t kRowCount = sizeof(kRows) / sizeof(kRows[0]);

uint64_t* Row(char* base, size_t row) {
  return reinterpret_cast<uint64_t*>(base + row * kRowStride);
}

void Store(uint64_t* p, uint64_t v) {
  asm volatile("movq %1, %0" : "=m"(*p) : "r"(v) : "memory");
}
void Clwb(void* p) {
  asm volatile("clwb %0" : "+m"(*static_cast<char*>(p))::"memory");
}
void Clflush(void* p) {
  asm volatile("clflush %0" : "+m"(*static_cast<char*>(p))::"memory");
}
void Clflushopt(void* p) {
  asm volatile("clflushopt %0" : "+m"(*static_cast<char*>(p))::"memory");
}
void Sfence() {
  asm volatile("sfence" ::: "memory");
}
void Mfence() {
  asm volatile("mfence" ::: "memory");
}
void Movnti(uint64_t* p, uint64_t v) {
  asm volatile("movnti %1, %0" : "=m"(*p) : "r"(v) : "memory");
}

std::atomic<bool> g_spin{true};  // the other CPU's fence loop runs until the cut

void* FenceOnOtherCpu(void*) {
  while (g_spin.load(std::memory_order_relaxed)) Sfence();
  return nullptr;
}

bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

int Run(char* base) {
  if (!PinTo(0)) (void)std::fprintf(stderr, "nvlab-litmus: cannot pin to cpu 0\n");
  // Rows that complete: any later fence is harmless to them.
  Store(Row(base, 0), kFirst);
  Store(Row(base, 2), kFirst);
  Clwb(Row(base, 2));
  Sfence();
  Store(Row(base, 3), kFirst);
  Clflush(Row(base, 3));
  Store(Row(base, 4), kFirst);
  Clflushopt(Row(base, 4));
  Mfence();
  Store(Row(base, 5), kFirst);
  Clwb(Row(base, 5));
  {
    uint64_t on_stack = 0;
    asm volatile("lock addq $1, %0" : "+m"(on_stack)::"memory");
  }
  Store(Row(base, 7), kFirst);
  Clwb(Row(base, 7));
  Store(Row(base, 7), kSecond);
  Sfence();
  Movnti(Row(base, 9), kFirst);
  Sfence();
  Store(Row(base, 10), kFirst);
  Store(Row(base, 11), kFirst);
  Clwb(Row(base, 10));
  Sfence();
  Store(Row(base, 12), kFirst);
  Clwb(Row(base, 12));
  {
    uint64_t on_stack = 5;
    uint64_t reg = 6;
    asm volatile("xchgq %0, %1" : "+r"(reg), "+m"(on_stack)::"memory");
  }
  Store(Row(base, 13), kFirst);
  Clwb(Row(base, 13));
  {
    unsigned a = 0, b, c = 0, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d)::"memory");
  }
  // Addressing modes of the flush operand.
  Store(Row(base, 14), kFirst);
  {
    char* b14 = reinterpret_cast<char*>(Row(base, 14)) - ptrdiff_t{3} * 8 - 0x1000;
    uint64_t index = 3;
    asm volatile("clwb 0x1000(%0,%1,8)" ::"r"(b14), "r"(index) : "memory");
    Sfence();
  }
  Store(Row(base, 15), kFirst);
  {
    // [index*8 + disp32]: disp32 is a constant, so scale the row address down into the index.
    uintptr_t addr = reinterpret_cast<uintptr_t>(Row(base, 15));
    uintptr_t index = (addr - 64) / 8;  // addr - 64 is 8-aligned: the row is page aligned
    asm volatile("clwb 64(,%0,8)" ::"r"(index) : "memory");
    Sfence();
  }
  Store(Row(base, 16), kFirst);
  {
    char* b16 = reinterpret_cast<char*>(Row(base, 16)) - 0x40;
    asm volatile("clwb 0x40(%0)" ::"r"(b16) : "memory");
    Sfence();
  }
  Store(Row(base, 17), kFirst);
  if (syscall(SYS_arch_prctl, ARCH_SET_GS, reinterpret_cast<uintptr_t>(base)) == 0) {
    uintptr_t off = 17 * kRowStride;
    asm volatile("clwb %%gs:(%0)" ::"r"(off) : "memory");
    Sfence();
  } else {
    (void)std::fprintf(stderr, "nvlab-litmus: arch_prctl(ARCH_SET_GS) failed\n");
  }
  Store(Row(base, 18), kFirst);
  {
    char* b18 = reinterpret_cast<char*>(Row(base, 18)) - ptrdiff_t{32} * 2;
    uint64_t index = 32;
    asm volatile("clflushopt (%0,%1,2)" ::"r"(b18), "r"(index) : "memory");
    Sfence();
  }
  {
    alignas(16) uint64_t pair[2] = {kFirst, kFirst};
    asm volatile(
        "movdqa %1, %%xmm0\n\t"
        "movntdq %%xmm0, %0"
        : "=m"(*reinterpret_cast<char(*)[16]>(Row(base, 19)))
        : "m"(pair)
        : "xmm0", "memory");
    Sfence();
  }

  // No fence of this program completes row 20: the kernel's locked instructions do (sched_yield
  // takes the run-queue lock), a kernel completion the cut report names.
  Store(Row(base, 20), kFirst);
  Clwb(Row(base, 20));
  syscall(SYS_sched_yield);

  // The other CPU fences in a loop from here on; none of those fences may complete this CPU's
  // flushes.
  pthread_t other;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(1, &set);
  pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
  const bool have_other = pthread_create(&other, &attr, FenceOnOtherCpu, nullptr) == 0;
  if (!have_other) (void)std::fprintf(stderr, "nvlab-litmus: no second thread\n");
  // Give it time to start fencing (the sleep is a system call: it comes before the pending rows).
  usleep(20000);

  // Rows that must stay pending until the cut: no fence, no system call, no page fault from
  // here on (the pages were touched above? no: touch them now, before the sequence).
  for (size_t r : {1, 6, 8}) {
    volatile uint64_t touch = *Row(base, r);
    (void)touch;
  }
  Sfence();  // nothing is pending yet: orders the touches, completes nothing of the rows below
  Store(Row(base, 1), kFirst);
  Clwb(Row(base, 1));
  Store(Row(base, 6), kFirst);
  Clwb(Row(base, 6));
  Movnti(Row(base, 8), kFirst);
  NvLabPowerCut();
  g_spin.store(false);
  if (have_other) pthread_join(other, nullptr);
  (void)std::fprintf(stderr,
                     "nvlab-litmus: NvLabPowerCut returned: not under the persistence model\n");
  return 3;
}

// Remap: one 2 MiB-aligned virtual address V shows different device pages in turn (devdax maps
// 2 MiB pages), and every store there is flushed through V with CLWB + SFENCE. A flush
// translated with a stale (CR3, page) entry would write back the previously mapped page and
// leave the new one dirty: lost at the cut (ADR, policy lose).
//   old       V -> device offset 2 MiB (the first flush fills the plugin's cache)
//   new       munmap, mmap at V of offset 4 MiB in the same process (the kernel's INVLPG)
//   child-N   each of kRemapChildren forked processes in turn maps offset (6 + 2N) MiB at V:
//             a new address space each, whose top table may reuse the freed one of the last
constexpr size_t kHugePage = size_t{2} << 20;
constexpr int kRemapChildren = 4;

struct RemapPage {
  const char* name;
  uint64_t offset;
  uint64_t value;
};

const RemapPage kRemapPages[] = {
    {"old", 1 * kHugePage, kFirst},     {"new", 2 * kHugePage, kSecond},
    {"child-0", 3 * kHugePage, kFirst}, {"child-1", 4 * kHugePage, kSecond},
    {"child-2", 5 * kHugePage, kFirst}, {"child-3", 6 * kHugePage, kSecond},
};

// MapAt maps the device's [offset, offset + 2 MiB) at `at` exactly; false with a message.
bool MapAt(int fd, char* at, uint64_t offset) {
  void* p = mmap(at, kHugePage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                 static_cast<off_t>(offset));
  if (p == at) return true;
  (void)std::fprintf(stderr, "nvlab-litmus: mmap at %p of offset %llu: %s\n",
                     static_cast<void*>(at), static_cast<unsigned long long>(offset),
                     std::strerror(errno));
  return false;
}

void StoreFlushFence(char* at, uint64_t value) {
  Store(reinterpret_cast<uint64_t*>(at), value);
  Clwb(at);
  Sfence();
}

int Remap(const char* device) {
  const int fd = open(device, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    (void)std::fprintf(stderr, "nvlab-litmus: open %s: %s\n", device, std::strerror(errno));
    return 1;
  }
  // A 2 MiB-aligned address inside a reserved range.
  void* reserve = mmap(nullptr, 2 * kHugePage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (reserve == MAP_FAILED) return 1;
  const uintptr_t misalign = reinterpret_cast<uintptr_t>(reserve) % kHugePage;
  char* const v = static_cast<char*>(reserve) + (misalign == 0 ? 0 : kHugePage - misalign);

  if (!MapAt(fd, v, kRemapPages[0].offset)) return 1;
  StoreFlushFence(v, kRemapPages[0].value);
  StoreFlushFence(v, kRemapPages[0].value);  // Translated from the cache this time.
  if (munmap(v, kHugePage) != 0 || !MapAt(fd, v, kRemapPages[1].offset)) return 1;
  StoreFlushFence(v, kRemapPages[1].value);
  for (int n = 0; n < kRemapChildren; ++n) {
    const RemapPage& page = kRemapPages[2 + n];
    const pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
      if (munmap(v, kHugePage) != 0 || !MapAt(fd, v, page.offset)) _exit(1);
      StoreFlushFence(v, page.value);
      _exit(0);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      (void)std::fprintf(stderr, "nvlab-litmus: remap child %d failed\n", n);
      return 1;
    }
  }
  NvLabPowerCut();
  (void)std::fprintf(stderr,
                     "nvlab-litmus: NvLabPowerCut returned: not under the persistence model\n");
  return 3;
}

int RemapCheck(const char* base, size_t size) {
  for (const RemapPage& page : kRemapPages) {
    if (page.offset + sizeof(uint64_t) > size) {
      (void)std::fprintf(stderr, "nvlab-litmus: the device is too small for remap\n");
      return 1;
    }
    const uint64_t word = *reinterpret_cast<const volatile uint64_t*>(base + page.offset);
    const char* value = word == 0 ? "none" : word == page.value ? "written" : "other";
    std::printf("litmus remap-%s=%s\n", page.name, value);
  }
  return 0;
}

const char* Classify(const uint64_t* p) {
  if (p[0] == 0) return "none";
  if (p[0] == kFirst) return "first";
  if (p[0] == kSecond) return "second";
  return "torn";
}

int Check(char* base) {
  for (size_t r = 0; r < kRowCount; ++r) {
    std::printf("litmus %s=%s\n", kRows[r], Classify(Row(base, r)));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "remap") == 0) return Remap(argv[2]);
  const bool remap_check = argc == 3 && std::strcmp(argv[1], "remap-check") == 0;
  if (!remap_check &&
      (argc != 3 || (std::strcmp(argv[1], "run") != 0 && std::strcmp(argv[1], "check") != 0))) {
    (void)std::fprintf(stderr, "usage: nvlab-litmus run|check|remap|remap-check DEVICE\n");
    return 2;
  }
  // Everything resident and every symbol bound before the sequences: a page fault is a kernel
  // entry, which would complete pending flushes (docs/design/persistence-model.md).
  if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) std::perror("nvlab-litmus: mlockall");
  void* base = nullptr;
  SIZE_T size = 0;
  const NTSTATUS st = NvMapDaxDevice(argv[2], &base, &size);
  if (!NT_SUCCESS(st) || size < kRowCount * kRowStride) {
    (void)std::fprintf(stderr, "nvlab-litmus: cannot map %s: %s\n", argv[2],
                       NvGetLastErrorMessage());
    return 1;
  }
  if (remap_check) return RemapCheck(static_cast<const char*>(base), size);
  return std::strcmp(argv[1], "run") == 0 ? Run(static_cast<char*>(base))
                                          : Check(static_cast<char*>(base));
}
