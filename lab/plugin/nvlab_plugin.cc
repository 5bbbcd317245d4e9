// nvlab_plugin.cc -- nvlab's persistence domain for QEMU TCG: unflushed NVDIMM data vanishes
// at a power cut.
//
// QEMU alone keeps every guest store to an emulated NVDIMM (the backing file is shared and
// already holds them), so a killed guest behaves like an eADR machine at best. This plugin
// follows what decides durability on x86 -- cache-line flushes (CLWB, CLFLUSHOPT, CLFLUSH),
// fences (SFENCE, MFENCE, locked instructions, XCHG with memory, serializing instructions),
// WBINVD and non-temporal stores -- feeds them to the persistence model (lab/model), and at a
// power cut rewrites the backing files so that they hold only what the platform and the cut
// policy let survive. docs/formats/cut-report.md documents the report it writes.
//
// Contract with the host (lab/host's launcher):
//   QEMU runs `-accel tcg,thread=single -cpu max`, NVDIMMs as memory-backend-file,share=on
//   (the plugin maps each backing file itself, MAP_SHARED: the CPUs' view), optionally guest
//   RAM as memory-backend-file,share=on too (ram=: read for page walks).
//   Options (plugin_options.h has the grammar):
//     nvdimm=<index>:<gpa-base-hex>:<size-bytes>:<path>   repeatable, required
//     ram=<gpa-base-hex>:<size-bytes>:<path>              repeatable, optional
//     persistence=adr|eadr (adr)   on-cut=lose|keep|random:SEED[:P] (lose)
//     report=<path>   control=<unix socket path>   cut-after-fences=<N>
//     trace-stores=off|user|on (off)   kernel-task=<current>:<comm>:<pid>:<tgid> (none)
//     record=<path> (none)   watch-loads=off|on (off): crash-state exploration, below
//   An unknown option or bad value: one stderr line naming it, and QEMU refuses to start.
//   Power cuts, each done once (later requests answer an error):
//     host    QMP `stop`, then connect to control= and send "cut\n"; the plugin answers
//             "ok\n" (or "error <message>\n") once the files and the report are on disk; the
//             host then SIGKILLs QEMU. "ping\n" answers "pong\n" (the plugin is installed).
//     guest   CPUID with EAX=NVLAB_POWER_CUT_CPUID_LEAF, ECX=NVLAB_POWER_CUT_CPUID_SUBLEAF
//             (guest-lib's NvLabPowerCut), caught before the CPUID executes; the plugin cuts,
//             writes the report ("trigger": "guest") and ends QEMU with _exit(0): no QEMU
//             shutdown path runs. The host tells it from a guest poweroff by the report.
//     fences  with cut-after-fences=N, right after the N-th fence that completed at least one
//             pending flush or NT store; then as for guest ("trigger": "fences").
//   Recording (record=<path>; docs/design/exploration.md "Record once", the file:
//   docs/formats/recording.md), one window per run:
//     waiting --begin mark--> recording --end mark | power cut | QEMU's exit--> done
//     begin   CPUID EAX=NVLAB_POWER_CUT_CPUID_LEAF, ECX=NVLAB_RECORDING_BEGIN_CPUID_SUBLEAF
//             (nvrtl/nvlab_recording_marker.h), any vCPU, user or kernel, before it executes:
//             every CPU's pending work completes and a WBINVD follows in the model (every line
//             persisted: the model and the recording agree), <path>.nvdimm<N> gets a sparse
//             copy of NVDIMM N's backing file (the recording's initial image, named relative
//             to its folder), <path>.part the header and NVDIMM records.
//     window  every NVDIMM store (bytes: QEMU's value of the access, split at lines and NVDIMM
//             ends), flush (CLFLUSH, CLFLUSHOPT, CLWB), WBINVD/WBNOINVD, and a fence (SFENCE,
//             MFENCE, locked, serializing including CPUID) only when its vCPU recorded a flush
//             or NT store since its last recorded fence; vCPU = ExecutingCpu, PC = the guest
//             virtual address, process from kernel-task= (tgid and comm).
//     end     ECX=NVLAB_RECORDING_END_CPUID_SUBLEAF, before it executes; or a power cut
//             (before the cut rewrites the files) or QEMU's exit: the end record, fsync,
//             rename to <path>. A second begin, or an end outside the window: one stderr line,
//             ignored. A write error: one stderr line and no recording (the files removed);
//             SIGKILL mid-window leaves only <path>.part. Without record= the marks are CPUIDs.
//     With record= every storing instruction has a callback from the start (as trace-stores=on).
//   Watching loads (watch-loads=on: the check guest of exploration, whose NVDIMM files the
//   host rewrites, in place, between checks while the guest is quiescent): no model, no flush,
//   fence, store or CPUID callbacks (the marks and the guest's power-cut request are plain
//   CPUIDs), host power cuts answer an error; a callback on every load, and one on each TLB
//   invalidation (they empty the loads' page cache, virtual_page_cache.h). On control=:
//     "watch-begin\n"         empties the watched set, starts watching; "ok\n"
//     "watch-end <path>\n"    stops; writes <path>: each 64-byte NVDIMM line a load read while
//                             watching, once, in first-read order, "<nvdimm> <line>\n" (line =
//                             byte offset / 64, decimal); "ok <count>\n"
//     errors                  "error <sentence>\n" (not watching, no path, watch-loads off)
//   A load across lines counts each line. Outside a watch window a load costs the callback.
//
// State machine (docs/design/persistence-model.md), per 64-byte NVDIMM line, kept by the model:
//   clean --store--> dirty --CLFLUSH--> clean
//   dirty --CLWB/CLFLUSHOPT on cpu C--> flush-pending(C, snapshot) --fence on C--> media
//   NT store on C --> C's write-combining buffer --fence on C--> media
//   power cut: adr keeps the media; eadr also the caches; keep/random decide the rest.
// No store callbacks by default (docs/design/platform.md measured 1.6-1.8x for them): the plugin's
// mapping of the file shows every store at once, dirty lines are where it differs from the media
// image the model keeps. trace-stores=on adds a callback on every storing instruction, recording
// the PC and CR3 of NVDIMM stores for the report (a recording mode, at that cost);
// trace-stores=user only on user-space code, which the kernel's page clearing does not pay for.
// With kernel-task= (the guest kernel's layout, from its BTF) each recorded store also names
// the guest process running it: pid, tgid and comm of the kernel's current task.
// The recording (recording_writer.h) sees events in execution order: flushes, fences and WBINVD
// in exec callbacks before the instruction, stores in memory callbacks after it.
//
// Flush addresses: decoded at translation time (x86_decode.h), evaluated from the registers the
// operand uses in an R_REGS exec callback, translated by the translation cache
// (translation_cache.h: CR3 is the only other register a hit reads), else by a page walk over
// the guest RAM file (page_walk.h) that fills the cache, else by the (CR3, page) map learned
// from NVDIMM stores the plugin saw. Every instruction that invalidates TLB entries (MOV to
// CR0/CR3/CR4, INVLPG, INVPCID, INVLPGB, RSM) gets an exec callback that empties the cache
// before it runs, on whichever vCPU: the cache is never staler than the guest's TLBs.
// Unresolvable flushes are counted and sampled in the report, never dropped silently.
//
// Kernel completions: an interrupt, exception or system call between a program's CLWB (or NT
// store) and its own fence runs kernel code whose locked and serializing instructions complete
// the pending work, as they do on hardware. The report counts and samples these ("kernel
// completions"), so that a line which survived although its program never fenced it is
// explained; the fence's PC tells kernel from user code (the canonical halves).
//
// Threads: QEMU calls the vCPU callbacks from its one TCG thread; the control socket has its
// own thread. One mutex serialises every use of the model, the recording and the watched set.
//
// Which vCPU: under thread=single QEMU 10.0 does NOT pass the executing vCPU as a callback's
// vcpu_index. Without CF_PARALLEL, accel/tcg/plugin-gen.c (gen_cpu_index) folds the index of
// the vCPU that *translated* the block into the code as a constant, and the round-robin vCPUs
// share translated blocks: a block first translated on vCPU 1 reports "1" every time vCPU 0
// runs it. Per-vCPU state (WC buffers, pending CLWB/CLFLUSHOPT, which fence orders what) keyed
// by that index goes to the wrong CPU. The register API does read the executing vCPU
// (current_cpu), so ExecutingCpu() identifies it by its per-CPU GS base (the kernel's per-CPU
// area: GS_BASE in the kernel, KERNEL_GS_BASE while user code runs or around SWAPGS), and
// falls back to vcpu_index only before the guest kernel has set one up.
// The same folding breaks scoreboards under thread=single: QEMU 10.0 multiplies the folded
// constant in place when it computes a per-vCPU element's address, so inline operations and
// conditional callbacks in blocks translated on vCPU 1 read the wrong element and later
// callbacks of the block receive vcpu_index 16 or 256 (seen on the 2-vCPU default machine).
// The plugin therefore uses no inline operations or conditional callbacks: the fence fast
// path is a flag test inside the callback (OnFence).

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cut_report_json.h"
#include "file_extents.h"
#include "guest_task_reader.h"
#include "line_watch_set.h"
#include "nvlab/model/persistence_domain.h"
#include "nvrtl/nvlab_power_cut.h"
#include "nvrtl/nvlab_recording_marker.h"
#include "page_walk.h"
#include "plugin_options.h"
#include "qemu_plugin_api.h"
#include "recording_writer.h"
#include "translation_cache.h"
#include "virtual_page_cache.h"
#include "x86_decode.h"

NVLAB_QEMU_PLUGIN_EXPORT int qemu_plugin_version = NVLAB_QEMU_PLUGIN_API_VERSION;

namespace {

using nvlab::explore::FenceKind;
using nvlab::explore::FlushKind;
using nvlab::model::PersistenceDomain;
using nvlab::plugin::GuestTask;
using nvlab::plugin::RecordingWriter;
using nvlab::plugin::X86Instruction;
using nvlab::plugin::X86Kind;
using nvlab::plugin::X86TlbFlush;

constexpr size_t kMaxListedLostLines = 1000;
constexpr size_t kMaxUnresolvedSamples = 8;
constexpr size_t kMaxKernelCompletionSamples = 8;
constexpr size_t kMaxProcesses = 4096;  // Guest processes the report can name.
constexpr uint64_t kKernelHalf = 0xffff800000000000ULL;
constexpr uint64_t kPageShift = 12;
constexpr uint64_t kNoUserWork = ~uint64_t{0};  // Not a user-space PC.
constexpr uint64_t kGuestPageBytes = 4096;
// Model CPU ids from ExecutingCpu: below, a QEMU vcpu_index (early boot, not the executing
// vCPU's for sure); from here, a vCPU known by its kernel per-CPU area.
constexpr unsigned kFirstGsCpuId = 64;
static_assert(std::endian::native == std::endian::little,
              "the bytes of a stored value are taken from QEMU's host-order numbers");

// ---------------------------------------------------------------------------------------------
// State

// FileMapping is one backing file mapped MAP_SHARED.
struct FileMapping {
  uint64_t base = 0;  // Guest-physical address of the mapping's first byte.
  uint64_t size = 0;
  int fd = -1;
  uint8_t* data = nullptr;
  bool Contains(uint64_t gpa) const { return gpa >= base && gpa - base < size; }
};

// GuestRamReader reads guest-physical memory from the file-backed RAM mappings.
class GuestRamReader : public nvlab::plugin::PhysicalMemoryReader {
 public:
  explicit GuestRamReader(const std::vector<FileMapping>* ram) : ram_(ram) {}
  bool Read64(uint64_t gpa, uint64_t* value) const override {
    for (const FileMapping& m : *ram_) {
      if (m.Contains(gpa) && m.Contains(gpa + 7)) {
        std::memcpy(value, m.data + (gpa - m.base), sizeof *value);
        return true;
      }
    }
    return false;
  }

 private:
  const std::vector<FileMapping>* ram_;
};

// Handles of the registers the callbacks read, found in the first vCPU-init callback.
struct RegisterHandles {
  qemu_plugin_register* gpr[16] = {};  // ModRM numbering: rax rcx rdx rbx rsp rbp rsi rdi r8..
  qemu_plugin_register* fs_base = nullptr;
  qemu_plugin_register* gs_base = nullptr;
  qemu_plugin_register* k_gs_base = nullptr;
  qemu_plugin_register* cr0 = nullptr;
  qemu_plugin_register* cr3 = nullptr;
  qemu_plugin_register* cr4 = nullptr;
  qemu_plugin_register* efer = nullptr;
  bool found = false;
};

struct PluginState {
  nvlab::plugin::PluginOptions options;
  std::vector<FileMapping> nvdimms;
  std::vector<FileMapping> ram;
  RegisterHandles regs;

  // Whether the model has pending write-backs or NT stores on any CPU, kept by
  // SyncWorkPending after each event that may change it. A boot runs ~1.4 million fence-like
  // instructions (the kernel's locked ones), nearly all with nothing pending: OnFence answers
  // those from this flag alone, without the mutex, and only counts them (idle_fences).
  // Atomics because the control thread reads them at a host cut (the vCPUs are stopped then).
  std::atomic<bool> work_pending{false};
  // record=: whether some vCPU has a recorded flush or NT store no recorded fence followed:
  // OnFence's fast path must then look (kept by SyncRecordingFences).
  std::atomic<bool> recording_wants_fence{false};
  // watch-loads=on: whether loads are watched now (read by every load, set by the control
  // thread).
  std::atomic<bool> watching{false};
  std::atomic<uint64_t> idle_fences{0};

  std::mutex mutex;  // Guards everything below.
  // ReadRegister's buffer: one, reused (a thread_local cost a __tls_get_addr per read in a
  // dlopened module).
  GByteArray* register_bytes = g_byte_array_sized_new(16);
  PersistenceDomain domain;
  bool cut_done = false;
  enum class Window : uint8_t { kOff, kWaiting, kRecording, kDone };
  Window window = Window::kOff;  // record=: the recording window (see "Recording" above).
  uint64_t ordering_fences = 0;
  uint64_t translated_flushes = 0;
  uint64_t unresolved_flushes = 0;
  std::vector<uint64_t> unresolved_pcs;
  // Per model CPU: the PC of the first user-space flush or NT store that left work pending
  // there since the CPU's last completing fence (NoteUserWork). When a kernel fence completes
  // it, that is a KernelCompletion: the reason a line its program never fenced may survive.
  // Indexed by CPU (a flat table: this runs at every flush and completing fence);
  // kNoUserWork where there is none.
  std::vector<uint64_t> user_work_pc =
      std::vector<uint64_t>(PersistenceDomain::kMaxCpus, kNoUserWork);
  uint64_t kernel_completions = 0;
  std::vector<nvlab::plugin::KernelCompletion> kernel_completion_samples;
  // Per-CPU GS base -> the model's CPU id (ExecutingCpu), and the last pair it answered (the
  // same vCPU runs long stretches).
  std::unordered_map<uint64_t, unsigned> cpu_by_gs_base;
  uint64_t last_gs_base = 0;
  unsigned last_gs_cpu = 0;
  // Flush translations from page walks, emptied by the guest's TLB invalidations.
  nvlab::plugin::TranslationCache translations;
  // (CR3, virtual page) -> physical page, learned from NVDIMM stores.
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, uint64_t>> learned_pages;
  // Guest processes that stored to NVDIMM lines (kernel-task=): StoreSite::context - 1 indexes
  // processes. Per model CPU, the task last identified there (CurrentProcess).
  struct CpuTask {
    uint64_t task_address = 0;
    uint64_t cr3 = 0;
    int32_t pid = 0;
    uint32_t context = 0;
  };
  std::vector<GuestTask> processes;
  std::unordered_map<std::string, uint32_t> process_context;  // pid/tgid/comm -> context
  std::unordered_map<unsigned, CpuTask> task_by_cpu;
  // Decoded flush instructions, by (vaddr, bytes), alive as long as translated code may run.
  std::unordered_map<std::string, std::unique_ptr<X86Instruction>> flush_sites;
  int control_fd = -1;

  // record=: the recording window (see "Recording" above), its writer and what it needs.
  std::unique_ptr<RecordingWriter> recording;
  uint64_t recording_unresolved_flushes = 0;
  std::vector<uint32_t> recording_process_ids;  // StoreSite::context -> the recording's id.

  // watch-loads=on: the lines loads read while watching (see "Watching loads" above).
  std::unique_ptr<nvlab::plugin::LineWatchSet> watched;
  // watch-loads=on: where each vCPU's recent loads went, so most loads need no QEMU lookup.
  // Used without the mutex (per-vCPU slots, an atomic epoch: see its header).
  std::unique_ptr<nvlab::plugin::VirtualPageCache> load_pages;
};

// The one plugin instance. Global because QEMU's callbacks carry no context but their
// per-instruction userdata; created at install, deliberately never freed (the control thread
// and late callbacks may still use it while QEMU exits).
PluginState* g_state = nullptr;

// ---------------------------------------------------------------------------------------------
// Helpers

// ReadRegister returns a register's value (little-endian, up to 8 bytes); 0 when unreadable.
// Caller holds the mutex (the buffer).
uint64_t ReadRegister(qemu_plugin_register* handle) {
  if (handle == nullptr) return 0;
  GByteArray* buf = g_state->register_bytes;
  // Emptied by hand: a byte array has no terminator and no clear function, so this is all
  // g_byte_array_set_size(buf, 0) does, without the two calls it costs at every flush.
  buf->len = 0;
  int n = qemu_plugin_read_register(handle, buf);
  uint64_t value = 0;
  if (n > 0) std::memcpy(&value, buf->data, n < 8 ? n : 8);
  return value;
}

const FileMapping* NvdimmAt(uint64_t gpa) {
  for (const FileMapping& m : g_state->nvdimms) {
    if (m.Contains(gpa)) return &m;
  }
  return nullptr;
}

// SyncWorkPending refreshes work_pending from the model. Call after every event that may add
// or complete pending work. Caller holds the mutex.
void SyncWorkPending() {
  g_state->work_pending.store(!g_state->cut_done && g_state->domain.HasAnyPendingWork(),
                              std::memory_order_relaxed);
}

// NoteUserWork remembers that the instruction at pc, if user-space code, left work pending on
// model CPU `cpu`. Caller holds the mutex.
void NoteUserWork(unsigned cpu, uint64_t pc) {
  if (pc >= kKernelHalf || cpu >= g_state->user_work_pc.size() ||
      !g_state->domain.HasPendingWork(cpu)) {
    return;
  }
  uint64_t& first = g_state->user_work_pc[cpu];
  if (first == kNoUserWork) first = pc;
}

// AfterCompletion: a fence (or WBINVD) at fence_pc completed all of `cpu`'s pending work; when
// kernel code completed work user code left, count it and keep a sample. Caller holds the mutex.
void AfterCompletion(unsigned cpu, uint64_t fence_pc) {
  PluginState& s = *g_state;
  if (cpu >= s.user_work_pc.size() || s.user_work_pc[cpu] == kNoUserWork) return;
  uint64_t& user_pc = s.user_work_pc[cpu];
  if (fence_pc >= kKernelHalf) {
    ++s.kernel_completions;
    if (s.kernel_completion_samples.size() < kMaxKernelCompletionSamples) {
      s.kernel_completion_samples.push_back({fence_pc, user_pc});
    }
  }
  user_pc = kNoUserWork;
}

// ExecutingCpu returns the model's id of the vCPU running the current callback (see "Which
// vCPU" above; QEMU's vcpu_index is the vCPU that translated the block). Guest kernels keep a
// per-CPU area in GS: GS_BASE in kernel mode, KERNEL_GS_BASE in user mode (SWAPGS swaps them),
// and a user GS base is never a kernel-half address. Ids of CPUs found that way start at
// kFirstGsCpuId, above every vcpu_index (a machine has at most 64 vCPUs). Caller holds the
// mutex.
// KernelPerCpuBase returns the executing vCPU's per-CPU area (a kernel-half address), or 0
// before the guest kernel has one. pc is the running instruction's: user code (below the
// canonical hole) runs with the user's GS base in GS_BASE and the kernel's in KERNEL_GS_BASE,
// so one register read is enough there; kernel code reads GS_BASE, and KERNEL_GS_BASE when
// GS_BASE is not the kernel's (entry code before its SWAPGS).
uint64_t KernelPerCpuBase(uint64_t pc) {
  uint64_t base = 0;
  if (pc >= kKernelHalf) base = ReadRegister(g_state->regs.gs_base);
  if (base < kKernelHalf) base = ReadRegister(g_state->regs.k_gs_base);
  return base < kKernelHalf ? 0 : base;
}

unsigned ExecutingCpu(unsigned vcpu_index, uint64_t pc) {
  const uint64_t base = KernelPerCpuBase(pc);
  if (base == 0) return vcpu_index;  // Early boot: no per-CPU area yet.
  PluginState& s = *g_state;
  if (base == s.last_gs_base) return s.last_gs_cpu;
  auto& ids = s.cpu_by_gs_base;
  auto it = ids.find(base);
  unsigned id = 0;
  if (it != ids.end()) {
    id = it->second;
  } else {
    id = kFirstGsCpuId + static_cast<unsigned>(ids.size());
    if (id >= PersistenceDomain::kMaxCpus) return vcpu_index;
    ids.emplace(base, id);
  }
  s.last_gs_base = base;
  s.last_gs_cpu = id;
  return id;
}

// CurrentPaging reads the registers a page walk needs, but CR3, which the caller has read.
nvlab::plugin::PagingRegisters CurrentPaging(uint64_t cr3) {
  nvlab::plugin::PagingRegisters paging;
  paging.cr0 = ReadRegister(g_state->regs.cr0);
  paging.cr3 = cr3;
  paging.cr4 = ReadRegister(g_state->regs.cr4);
  paging.efer = ReadRegister(g_state->regs.efer);
  return paging;
}

// CurrentProcess returns the StoreSite::context of the task running on model CPU `cpu` (0 when
// unknown: no kernel-task= option, early boot, unreadable memory, a full table), for the store
// at pc in the address space of cr3. One page walk finds the task pointer; its fields are read
// again only when the CPU runs another task or address space. Caller holds the mutex.
uint32_t CurrentProcess(unsigned cpu, uint64_t pc, uint64_t cr3) {
  PluginState& s = *g_state;
  if (!s.options.kernel_task) return 0;
  const uint64_t percpu = KernelPerCpuBase(pc);
  if (percpu == 0) return 0;
  const nvlab::plugin::PagingRegisters paging = CurrentPaging(cr3);
  GuestRamReader reader(&s.ram);
  uint64_t task_address = 0;
  if (!nvlab::plugin::ReadCurrentTaskAddress(*s.options.kernel_task, paging, percpu, reader,
                                             &task_address)) {
    return 0;
  }
  PluginState::CpuTask& last = s.task_by_cpu[cpu];
  if (last.context != 0 && last.task_address == task_address && last.cr3 == cr3) {
    // A task_struct and a page table freed by one process may both be reused by the next, so
    // the pid is read again (one read): with all three equal it is the same process image (an
    // exec gives the task a new page table while the old one is still held).
    int32_t pid = 0;
    if (nvlab::plugin::ReadVirtual(paging, task_address + s.options.kernel_task->pid_offset, reader,
                                   &pid, sizeof pid) &&
        pid == last.pid) {
      return last.context;
    }
  }
  GuestTask task;
  if (!nvlab::plugin::ReadTask(*s.options.kernel_task, paging, task_address, reader, &task)) {
    return 0;
  }
  std::string key = std::to_string(task.pid) + "/" + std::to_string(task.tgid) + "/" + task.comm;
  uint32_t context = 0;
  if (auto it = s.process_context.find(key); it != s.process_context.end()) {
    context = it->second;
  } else if (s.processes.size() < kMaxProcesses) {
    s.processes.push_back(std::move(task));
    context = static_cast<uint32_t>(s.processes.size());
    s.process_context.emplace(std::move(key), context);
  } else {
    return 0;
  }
  last = {task_address, cr3, s.processes[context - 1].pid, context};
  return context;
}

// TranslateFlushAddress: the translation cache first (CR3 only, read once per CPU between
// invalidations: translation_cache.h; only for a CPU known by its per-CPU area), then a page walk
// (exact, follows page-table changes; fills the cache), else the map learned from stores. Caller
// holds the mutex (the cache, the learned map).
bool TranslateFlushAddress(unsigned cpu, uint64_t vaddr, uint64_t* gpa) {
  nvlab::plugin::TranslationCache& cache = g_state->translations;
  uint64_t cr3 = 0;
  if (cpu < kFirstGsCpuId || !cache.RememberedCr3(cpu, &cr3)) {
    cr3 = ReadRegister(g_state->regs.cr3);
    if (cpu >= kFirstGsCpuId) cache.RememberCr3(cpu, cr3);
  }
  if (cache.Lookup(cr3, vaddr, gpa)) return true;
  const nvlab::plugin::PagingRegisters paging = CurrentPaging(cr3);
  GuestRamReader reader(&g_state->ram);
  if (cache.WalkAndFill(paging, vaddr, reader, gpa) == nvlab::plugin::WalkResult::kOk) {
    return true;
  }
  auto space = g_state->learned_pages.find(paging.cr3);
  if (space == g_state->learned_pages.end()) return false;
  auto page = space->second.find(vaddr >> kPageShift);
  if (page == space->second.end()) return false;
  *gpa = (page->second << kPageShift) | (vaddr & ((1u << kPageShift) - 1));
  return true;
}

// WriteTextFile creates path (0644) with text; with sync, fsyncs it before closing.
bool WriteTextFile(const std::string& path, const std::string& text, bool sync,
                   std::string* error) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot create " + path + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "cannot write " + path + ": " + std::strerror(n < 0 ? errno : EIO);
      close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  bool ok = !sync || fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok) *error = "cannot finish " + path + ": " + std::strerror(errno);
  return ok;
}

// WriteWholeFile writes path.tmp, synced, and renames it over path.
bool WriteWholeFile(const std::string& path, const std::string& text, std::string* error) {
  const std::string tmp = path + ".tmp";
  if (!WriteTextFile(tmp, text, /*sync=*/true, error)) return false;
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot finish " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Recording (record=)

// SyncRecordingFences refreshes recording_wants_fence after a recorded event. Caller holds the
// mutex.
void SyncRecordingFences() {
  const PluginState& s = *g_state;
  g_state->recording_wants_fence.store(s.recording != nullptr && s.recording->AnyFenceWanted(),
                                       std::memory_order_relaxed);
}

// Recording returns the writer while the window is open, else null. Caller holds the mutex.
RecordingWriter* Recording() {
  return g_state->window == PluginState::Window::kRecording ? g_state->recording.get() : nullptr;
}

// RecordedProcess returns the recording's id for the process of StoreSite::context `context`
// (0: unknown). Caller holds the mutex.
uint32_t RecordedProcess(RecordingWriter* w, uint32_t context) {
  PluginState& s = *g_state;
  if (context == 0 || context > s.processes.size()) return 0;
  if (s.recording_process_ids.size() <= context) s.recording_process_ids.resize(context + 1, 0);
  uint32_t& id = s.recording_process_ids[context];
  if (id == 0) {
    const GuestTask& task = s.processes[context - 1];
    // The process id is the thread group's (what ps shows); comm names the thread.
    id = w->Process(static_cast<uint32_t>(task.tgid), task.comm);
  }
  return id;
}

// BeginRecording opens the window at the guest's begin mark (the CPUID at pc on model CPU
// cpu, before it executes): every line counts as persisted -- each CPU's pending work
// completes, then a WBINVD -- so that the model and the recording's initial images agree; the
// images are the backing files now. Caller holds the mutex.
void BeginRecording(unsigned cpu, uint64_t pc) {
  PluginState& s = *g_state;
  if (s.window != PluginState::Window::kWaiting) {
    (void)std::fprintf(
        stderr, "nvlab-plugin: record: a second begin mark (pc 0x%" PRIx64 ") is ignored\n", pc);
    return;
  }
  for (unsigned c = 0; c < PersistenceDomain::kMaxCpus; ++c) {
    if (s.domain.HasPendingWork(c)) s.domain.Fence(c);
  }
  s.domain.Wbinvd(cpu);
  std::fill(s.user_work_pc.begin(), s.user_work_pc.end(), kNoUserWork);
  SyncWorkPending();
  std::vector<nvlab::plugin::RecordingSource> sources;
  for (const FileMapping& m : s.nvdimms) sources.push_back({m.base, m.size, m.fd});
  std::string error;
  s.recording = RecordingWriter::Start(
      s.options.record_path, sources,
      [](const std::string& sentence) {
        (void)std::fprintf(stderr, "nvlab-plugin: record: %s\n", sentence.c_str());
      },
      &error);
  if (s.recording == nullptr) {
    (void)std::fprintf(stderr, "nvlab-plugin: record: %s\n", error.c_str());
    s.window = PluginState::Window::kDone;
    return;
  }
  s.window = PluginState::Window::kRecording;
}

// EndRecording closes the window (end mark, power cut, QEMU's exit): the end record, fsync,
// the rename. A failure was reported by the writer. Caller holds the mutex.
void EndRecording() {
  PluginState& s = *g_state;
  if (s.window != PluginState::Window::kRecording) return;
  s.window = PluginState::Window::kDone;
  if (s.recording->Finish() && s.recording_unresolved_flushes > 0) {
    (void)std::fprintf(stderr,
                       "nvlab-plugin: record: %" PRIu64
                       " flushes in the window had an address the plugin could not translate; "
                       "%s lacks them\n",
                       s.recording_unresolved_flushes, s.options.record_path.c_str());
  }
  s.recording.reset();
  SyncRecordingFences();
}

// OnRecordingMark handles the begin and end marks (nvrtl/nvlab_recording_marker.h). Caller
// holds the mutex.
void OnRecordingMark(uint64_t subleaf, unsigned int vcpu, uint64_t pc) {
  PluginState& s = *g_state;
  if (s.window == PluginState::Window::kOff || s.cut_done) return;  // No record=: no-ops.
  if (subleaf == NVLAB_RECORDING_BEGIN_CPUID_SUBLEAF) {
    BeginRecording(ExecutingCpu(vcpu, pc), pc);
  } else if (s.window == PluginState::Window::kRecording) {
    EndRecording();
  } else {
    (void)std::fprintf(stderr,
                       "nvlab-plugin: record: an end mark (pc 0x%" PRIx64
                       ") outside the recording window is ignored\n",
                       pc);
  }
}

// CutAndWrite applies the policy, rewrites the backing files, writes the report. Caller holds
// the mutex. Returns false with a message when something could not be done (or was done before).
bool CutAndWrite(const char* trigger, std::string* error) {
  PluginState& s = *g_state;
  if (s.options.watch_loads) {
    *error = "power cuts are not available with watch-loads=on (no persistence model)";
    return false;
  }
  if (s.cut_done) {
    *error = "power already cut";
    return false;
  }
  EndRecording();     // The window ends with the power, before the cut changes the files.
  s.cut_done = true;  // Even on failure below: the model's pending state is gone.
  s.work_pending.store(false, std::memory_order_relaxed);
  nvlab::model::PowerCutReport cut =
      s.domain.PowerCut(s.options.persistence, s.options.on_cut, kMaxListedLostLines);
  uint64_t rewritten = s.domain.WriteSurvivorsToView();
  bool ok = true;
  std::string sync_error;
  for (const FileMapping& m : s.nvdimms) {
    if (msync(m.data, m.size, MS_SYNC) != 0 || fsync(m.fd) != 0) sync_error = std::strerror(errno);
  }
  // Test hook: a real msync or fsync seldom fails on demand, so the host's handling of a cut
  // whose NVDIMMs were not synced is tested with this variable (its text is the error).
  if (const char* forced = std::getenv("NVLAB_PLUGIN_TEST_SYNC_ERROR");
      forced != nullptr && *forced != '\0') {
    sync_error = forced;
  }
  if (!sync_error.empty()) {
    *error = "cannot sync an NVDIMM backing file: " + sync_error;
    ok = false;
  }
  if (!s.options.report_path.empty()) {
    nvlab::plugin::CutReportInput input;
    input.trigger = trigger;
    input.policy_text = s.options.on_cut_text;
    input.cut = &cut;
    input.counters = s.domain.counters();
    input.counters.fences += s.idle_fences.load(std::memory_order_relaxed);
    input.nvdimms = &s.options.nvdimms;
    input.lines_rewritten = rewritten;
    input.unresolved_flushes = s.unresolved_flushes;
    input.unresolved_flush_pcs = s.unresolved_pcs;
    input.translated_flushes = s.translated_flushes;
    input.processes = &s.processes;
    input.kernel_completions = s.kernel_completions;
    input.kernel_completion_samples = s.kernel_completion_samples;
    input.nvdimm_sync_error = sync_error;
    std::string report_error;
    if (!WriteWholeFile(s.options.report_path, nvlab::plugin::FormatCutReportJson(input),
                        &report_error)) {
      *error = report_error;
      ok = false;
    }
  }
  return ok;
}

// PowerCut is CutAndWrite for callers QEMU runs: it throws nothing (out of memory while
// building the report is a failed cut), since an exception must not unwind into QEMU's C code.
bool PowerCut(const char* trigger, std::string* error) {
  try {
    return CutAndWrite(trigger, error);
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

// CutAndExit ends QEMU after a guest- or fence-triggered cut, with no QEMU shutdown path.
[[noreturn]] void CutAndExit(const char* trigger) {
  std::string error;
  if (!PowerCut(trigger, &error)) {
    (void)std::fprintf(stderr, "nvlab-plugin: power cut (%s): %s\n", trigger, error.c_str());
    _exit(1);
  }
  _exit(0);
}

// AfterOrderingFence counts fences that ordered NVDIMM writes (cut-after-fences=N). Caller
// holds the mutex.
void AfterOrderingFence() {
  ++g_state->ordering_fences;
  uint64_t n = g_state->options.cut_after_fences;
  if (n != 0 && g_state->ordering_fences == n) CutAndExit("fences");
}

// ---------------------------------------------------------------------------------------------
// Watching loads (watch-loads=on)

// WriteWatchFile writes the watched lines to path: a plain write (the host reads it once, right
// after the answer; nothing needs it durable).
bool WriteWatchFile(const std::string& path, const std::string& text, std::string* error) {
  return WriteTextFile(path, text, /*sync=*/false, error);
}

// WatchCommand answers watch-begin and watch-end <path> (the control socket's thread).
std::string WatchCommand(std::string_view command) {
  PluginState& s = *g_state;
  if (!s.options.watch_loads) return "error watch-loads is off\n";
  if (command == "watch-begin") {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.watched->Clear();
    s.watching.store(true, std::memory_order_relaxed);
    return "ok\n";
  }
  constexpr std::string_view kEnd = "watch-end ";
  const std::string path(command.size() > kEnd.size() ? command.substr(kEnd.size()) : "");
  if (path.empty()) return "error watch-end needs a path\n";
  std::string text;
  size_t count = 0;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.watching.load(std::memory_order_relaxed)) return "error not watching\n";
    s.watching.store(false, std::memory_order_relaxed);
    text = s.watched->Format();
    count = s.watched->lines().size();
  }
  std::string error;
  if (!WriteWatchFile(path, text, &error)) return "error " + error + "\n";
  return "ok " + std::to_string(count) + "\n";
}

// ServeControlConnection handles one host connection: one command line, one answer line.
void ServeControlConnection(int fd) {
  char line[4096 + 64];  // watch-end takes a path.
  size_t len = 0;
  while (len < sizeof line - 1) {
    ssize_t n = read(fd, line + len, sizeof line - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
    if (std::memchr(line, '\n', len) != nullptr) break;
  }
  std::string_view command(line, len);
  if (size_t nl = command.find('\n'); nl != std::string_view::npos) command = command.substr(0, nl);
  std::string answer;
  if (command == "ping") {
    answer = "pong\n";
  } else if (command == "cut") {
    std::lock_guard<std::mutex> lock(g_state->mutex);
    std::string error;
    answer = PowerCut("host", &error) ? "ok\n" : "error " + error + "\n";
  } else if (command == "watch-begin" || command.starts_with("watch-end")) {
    try {
      answer = WatchCommand(command);
    } catch (const std::exception& e) {
      answer = std::string("error ") + e.what() + "\n";
    }
  } else {
    answer = "error unknown command\n";
  }
  // MSG_NOSIGNAL: a host that went away before the answer must not raise SIGPIPE in QEMU.
  size_t done = 0;
  while (done < answer.size()) {
    ssize_t n = send(fd, answer.data() + done, answer.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
}

void ControlLoop(int listen_fd) {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // The socket was closed at exit.
    }
    ServeControlConnection(fd);
  }
}

bool StartControlSocket(const std::string& path, std::string* error) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);  // Length checked by the parser.
  unlink(path.c_str());  // A stale socket from an earlier run of the same run folder.
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 4) != 0) {
    *error = "cannot listen on control=" + path + ": " + std::strerror(errno);
    close(fd);
    return false;
  }
  g_state->control_fd = fd;
  std::thread(ControlLoop, fd).detach();
  return true;
}

bool MapFile(const std::string& path, uint64_t base, uint64_t size, bool writable, FileMapping* out,
             std::string* error) {
  // QEMU creates a missing backing file after the plugin is installed, and refuses a file
  // smaller than its size: create it at the right size ourselves, refuse a wrong one.
  // Opened read-write even for a read-only mapping: sizing a new file needs write access.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    *error = "cannot open '" + path + "': " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  if (st.st_size == 0 && ftruncate(fd, static_cast<off_t>(size)) != 0) {
    *error = "cannot size '" + path + "': " + std::strerror(errno);
    close(fd);
    return false;
  }
  if (st.st_size != 0 && static_cast<uint64_t>(st.st_size) < size) {
    *error = "'" + path + "' is " + std::to_string(st.st_size) + " bytes, smaller than " +
             std::to_string(size);
    close(fd);
    return false;
  }
  void* data =
      mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    *error = "cannot map '" + path + "': " + std::strerror(errno);
    close(fd);
    return false;
  }
  if (writable) {
    // An NVDIMM file's data extents are where the plugin reads (the media's start, the scans of
    // WBINVD and the cut), and in a preallocated file that is every page in the page cache:
    // readahead from the plugin's own reads would add zeroed pages around them, which every
    // later scan and the next boot's start then read too. Hints: failures change nothing else.
    (void)madvise(data, size, MADV_RANDOM);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
  }
  out->base = base;
  out->size = size;
  out->fd = fd;
  out->data = static_cast<uint8_t*>(data);
  return true;
}

// ReadDataExtents copies the file's data extents into the media image (zeroed elsewhere),
// through the plugin's mapping (MADV_RANDOM, see MapFile): a pread would start the kernel's
// readahead past each extent's end wherever QEMU's earlier faults left a readahead mark, and
// the zeroed pages it adds are data extents for the next scan and the next boot (8 MiB more a
// boot, measured). MADV_WILLNEED reads each extent's pages not in the page cache, exactly.
void ReadDataExtents(const FileMapping& m, uint8_t* media) {
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  for (auto [first, end] : nvlab::plugin::DataExtents(m.fd, m.size)) {
    const uint64_t aligned = first & ~(page - 1);
    (void)madvise(m.data + aligned, end - aligned, MADV_WILLNEED);
    std::memcpy(media + first, m.data + first, end - first);
  }
}

// InternFlushSite returns a long-lived copy of a decoded flush (re-translations share it).
const X86Instruction* InternFlushSite(const X86Instruction& insn, const uint8_t* bytes,
                                      size_t size) {
  std::string key(reinterpret_cast<const char*>(&insn.vaddr), sizeof insn.vaddr);
  key.append(reinterpret_cast<const char*>(bytes), size);
  std::lock_guard<std::mutex> lock(g_state->mutex);
  auto& slot = g_state->flush_sites[key];
  if (!slot) slot = std::make_unique<X86Instruction>(insn);
  return slot.get();
}

// ---------------------------------------------------------------------------------------------
// Callbacks

void OnVcpuInit(qemu_plugin_id_t, unsigned int) {
  RegisterHandles& r = g_state->regs;
  if (r.found) return;
  static const char* const kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                            "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  GArray* regs = qemu_plugin_get_registers();
  if (regs == nullptr) return;
  for (guint i = 0; i < regs->len; ++i) {
    const auto& d = g_array_index(regs, qemu_plugin_reg_descriptor, i);
    std::string_view name = d.name ? d.name : "";
    for (int g = 0; g < 16; ++g) {
      if (name == kGprNames[g]) r.gpr[g] = d.handle;
    }
    if (name == "fs_base") r.fs_base = d.handle;
    if (name == "gs_base") r.gs_base = d.handle;
    if (name == "k_gs_base") r.k_gs_base = d.handle;
    if (name == "cr0") r.cr0 = d.handle;
    if (name == "cr3") r.cr3 = d.handle;
    if (name == "cr4") r.cr4 = d.handle;
    if (name == "efer") r.efer = d.handle;
  }
  g_array_free(regs, TRUE);
  r.found = true;
}

// OnFlush: CLWB / CLFLUSHOPT / CLFLUSH, before it executes (nothing between changes the line).
void OnFlush(unsigned int vcpu, void* udata) {
  const auto* insn = static_cast<const X86Instruction*>(udata);
  std::lock_guard<std::mutex> lock(g_state->mutex);
  if (g_state->cut_done) return;
  // Only the registers the operand uses.
  nvlab::plugin::X86RegisterValues values;
  const RegisterHandles& r = g_state->regs;
  if (insn->memory.base >= 0)
    values.gpr[insn->memory.base] = ReadRegister(r.gpr[insn->memory.base]);
  if (insn->memory.index >= 0) {
    values.gpr[insn->memory.index] = ReadRegister(r.gpr[insn->memory.index]);
  }
  if (insn->memory.segment == nvlab::plugin::X86Segment::kFs)
    values.fs_base = ReadRegister(r.fs_base);
  if (insn->memory.segment == nvlab::plugin::X86Segment::kGs)
    values.gs_base = ReadRegister(r.gs_base);
  uint64_t vaddr = nvlab::plugin::EvaluateAddress(*insn, values);
  const unsigned cpu = ExecutingCpu(vcpu, insn->vaddr);
  uint64_t gpa = 0;
  if (!TranslateFlushAddress(cpu, vaddr, &gpa)) {
    ++g_state->unresolved_flushes;
    if (Recording() != nullptr) ++g_state->recording_unresolved_flushes;
    if (g_state->unresolved_pcs.size() < kMaxUnresolvedSamples) {
      g_state->unresolved_pcs.push_back(insn->vaddr);
    }
    return;
  }
  ++g_state->translated_flushes;
  if (NvdimmAt(gpa) == nullptr) return;  // A DRAM line: nothing to model.
  if (RecordingWriter* w = Recording()) {
    w->Flush(cpu, insn->vaddr, gpa,
             insn->kind == X86Kind::kClflush      ? FlushKind::kClflush
             : insn->kind == X86Kind::kClflushopt ? FlushKind::kClflushopt
                                                  : FlushKind::kClwb);
    SyncRecordingFences();
  }
  if (insn->kind == X86Kind::kClflush) {
    g_state->domain.Clflush(cpu, gpa);
  } else {
    g_state->domain.FlushOpt(cpu, gpa);
    NoteUserWork(cpu, insn->vaddr);
  }
  SyncWorkPending();
}

// OnFence: SFENCE, MFENCE, locked, XCHG with memory, serializing; before it executes, which
// is the same for the model (the instruction itself stores nothing the fence must order).
// udata is the instruction's PC; Kind is what a recording calls it (OnFenceOf).
void OnFence(unsigned int vcpu, void* udata, FenceKind kind) {
  // Most fences find nothing pending on any CPU: then which CPU runs them does not matter and
  // the model has nothing to do, nor the recording. Only the TCG thread changes these flags,
  // so no race here.
  if (!g_state->work_pending.load(std::memory_order_relaxed) &&
      !g_state->recording_wants_fence.load(std::memory_order_relaxed)) {
    g_state->idle_fences.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard<std::mutex> lock(g_state->mutex);
  if (g_state->cut_done) return;
  const unsigned cpu = ExecutingCpu(vcpu, reinterpret_cast<uintptr_t>(udata));
  if (RecordingWriter* w = Recording(); w != nullptr && w->WantsFence(cpu)) {
    w->Fence(cpu, reinterpret_cast<uintptr_t>(udata), kind);
    SyncRecordingFences();
  }
  if (g_state->domain.Fence(cpu) > 0) {
    AfterCompletion(cpu, reinterpret_cast<uintptr_t>(udata));
    SyncWorkPending();
    AfterOrderingFence();
  }
}

template <FenceKind kKind>
void OnFenceOf(unsigned int vcpu, void* udata) {
  OnFence(vcpu, udata, kKind);
}

void OnWbinvd(unsigned int vcpu, void* udata) {
  std::lock_guard<std::mutex> lock(g_state->mutex);
  if (g_state->cut_done) return;
  const unsigned cpu = ExecutingCpu(vcpu, reinterpret_cast<uintptr_t>(udata));
  if (RecordingWriter* w = Recording()) {
    w->Wbinvd(cpu, reinterpret_cast<uintptr_t>(udata));
    SyncRecordingFences();
  }
  bool pending = g_state->domain.HasPendingWork(cpu);
  g_state->domain.Wbinvd(cpu);
  if (pending) AfterCompletion(cpu, reinterpret_cast<uintptr_t>(udata));
  SyncWorkPending();
  if (pending) AfterOrderingFence();
}

// OnCpuid: the guest's power-cut request or a recording mark, else a serializing instruction
// (a fence). A mark is a serializing instruction too, after the plugin handled it: at the begin
// mark it finds nothing pending, at the end mark the window is closed.
void OnCpuid(unsigned int vcpu, void* udata) {
  {
    std::lock_guard<std::mutex> lock(g_state->mutex);
    uint64_t eax = ReadRegister(g_state->regs.gpr[0]) & 0xFFFFFFFFu;
    uint64_t ecx = ReadRegister(g_state->regs.gpr[1]) & 0xFFFFFFFFu;
    if (eax == NVLAB_POWER_CUT_CPUID_LEAF && ecx == NVLAB_POWER_CUT_CPUID_SUBLEAF) {
      if (!g_state->cut_done) CutAndExit("guest");
      return;
    }
    if (eax == NVLAB_POWER_CUT_CPUID_LEAF &&
        (ecx == NVLAB_RECORDING_BEGIN_CPUID_SUBLEAF || ecx == NVLAB_RECORDING_END_CPUID_SUBLEAF)) {
      OnRecordingMark(ecx, vcpu, reinterpret_cast<uintptr_t>(udata));
    }
  }
  OnFence(vcpu, udata, FenceKind::kSerializing);
}

// AccessPiece is the part of a memory access within one guest page, physically.
struct AccessPiece {
  uint64_t vaddr = 0;
  uint64_t gpa = 0;
  uint64_t offset = 0;  // In the access.
  uint64_t size = 0;
  const FileMapping* nvdimm = nullptr;  // The NVDIMM holding gpa, or null.
};

// PhysicalPieces splits the access at vaddr into its (at most two) pages and finds each one's
// physical address; returns how many pieces it found that lie in an NVDIMM.
size_t NvdimmPieces(qemu_plugin_meminfo_t info, uint64_t vaddr, uint64_t size,
                    AccessPiece (&pieces)[2]) {
  size_t found = 0;
  uint64_t done = 0;
  for (int page = 0; page < 2 && done < size; ++page) {
    const uint64_t va = vaddr + done;
    const uint64_t len = std::min(size - done, kGuestPageBytes - va % kGuestPageBytes);
    qemu_plugin_hwaddr* hw = qemu_plugin_get_hwaddr(info, va);
    if (hw != nullptr && !qemu_plugin_hwaddr_is_io(hw)) {
      const uint64_t gpa = qemu_plugin_hwaddr_phys_addr(hw);
      if (const FileMapping* m = NvdimmAt(gpa)) {
        uint64_t in = std::min(len, m->base + m->size - gpa);
        pieces[found++] = {va, gpa, done, in, m};
      }
    }
    done += len;
  }
  return found;
}

// StoredBytes copies what a store wrote: the value QEMU hands the callback (accesses of up to
// 16 bytes: every x86 access, QEMU splits wider vector stores), else the NVDIMM mapping, which
// holds the store right after it executed.
void StoredBytes(qemu_plugin_meminfo_t info, uint64_t size, const AccessPiece* pieces, size_t count,
                 uint8_t* out) {
  if (size <= 16) {
    const qemu_plugin_mem_value v = qemu_plugin_mem_get_value(info);
    switch (v.type) {
      case QEMU_PLUGIN_MEM_VALUE_U8:
        std::memcpy(out, &v.data.u8, 1);
        return;
      case QEMU_PLUGIN_MEM_VALUE_U16:
        std::memcpy(out, &v.data.u16, 2);
        return;
      case QEMU_PLUGIN_MEM_VALUE_U32:
        std::memcpy(out, &v.data.u32, 4);
        return;
      case QEMU_PLUGIN_MEM_VALUE_U64:
        std::memcpy(out, &v.data.u64, 8);
        return;
      case QEMU_PLUGIN_MEM_VALUE_U128:
        std::memcpy(out, &v.data.u128.low, 8);
        std::memcpy(out + 8, &v.data.u128.high, 8);
        return;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    const AccessPiece& p = pieces[i];
    std::memcpy(out + p.offset, p.nvdimm->data + (p.gpa - p.nvdimm->base), p.size);
  }
}

// Learn remembers the page of an NVDIMM store for flush translation. Caller holds the mutex.
void Learn(uint64_t cr3, uint64_t vaddr, uint64_t gpa) {
  g_state->learned_pages[cr3][vaddr >> kPageShift] = gpa >> kPageShift;
}

// OnAnyStore: a store executed (a callback after it); its bytes are in the NVDIMM mapping now.
// Plain stores tell the model their site (trace-stores=, record=), non-temporal ones fill the
// CPU's write-combining buffer; in the recording window both are recorded with their bytes.
void OnAnyStore(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void* udata,
                bool non_temporal) {
  if (!qemu_plugin_mem_is_store(info)) return;
  const uint64_t size = uint64_t{1} << qemu_plugin_mem_size_shift(info);
  AccessPiece pieces[2];
  const size_t count = NvdimmPieces(info, vaddr, size, pieces);
  if (count == 0) return;
  std::lock_guard<std::mutex> lock(g_state->mutex);
  if (g_state->cut_done) return;
  const uint64_t cr3 = ReadRegister(g_state->regs.cr3);
  const uint64_t pc = reinterpret_cast<uintptr_t>(udata);
  const unsigned cpu = ExecutingCpu(vcpu, pc);
  nvlab::model::StoreSite site{pc, cr3, CurrentProcess(cpu, pc, cr3)};
  RecordingWriter* w = Recording();
  uint8_t value[64] = {};
  if (w != nullptr || non_temporal)
    StoredBytes(info, std::min<uint64_t>(size, 64), pieces, count, value);
  const uint32_t process = w != nullptr ? RecordedProcess(w, site.context) : 0;
  for (size_t i = 0; i < count; ++i) {
    const AccessPiece& p = pieces[i];
    if (non_temporal) {
      g_state->domain.NtStore(cpu, p.gpa, p.size, value + p.offset, &site);
    } else {
      g_state->domain.Store(cpu, p.gpa, p.size, nullptr, &site);
    }
    if (w != nullptr) w->Store(cpu, pc, p.gpa, value + p.offset, p.size, non_temporal, process);
    Learn(cr3, p.vaddr, p.gpa);
  }
  if (non_temporal) {
    NoteUserWork(cpu, site.pc);
    SyncWorkPending();
  }
  if (w != nullptr) SyncRecordingFences();
}

// OnNtStore: a non-temporal store (MOVNTI, MOVNTDQ, ...), after it executed.
void OnNtStore(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void* udata) {
  OnAnyStore(vcpu, info, vaddr, udata, true);
}

// OnStore (trace-stores=, record=): any other storing instruction, after it executed.
void OnStore(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void* udata) {
  OnAnyStore(vcpu, info, vaddr, udata, false);
}

// WatchedPieces is NvdimmPieces for a load of the check guest, answered from the vCPU's
// VirtualPageCache where it can: nearly every load goes to a page it saw before.
size_t WatchedPieces(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, uint64_t size,
                     AccessPiece (&pieces)[2]) {
  nvlab::plugin::VirtualPageCache& cache = *g_state->load_pages;
  size_t found = 0;
  uint64_t done = 0;
  for (int page = 0; page < 2 && done < size; ++page) {
    const uint64_t va = vaddr + done;
    const uint64_t len = std::min(size - done, kGuestPageBytes - va % kGuestPageBytes);
    uint64_t base = 0;
    if (!cache.Lookup(vcpu, va, &base)) {
      const uint64_t epoch = cache.Epoch();
      base = nvlab::plugin::VirtualPageCache::kNotNvdimm;
      qemu_plugin_hwaddr* hw = qemu_plugin_get_hwaddr(info, va);
      if (hw != nullptr && !qemu_plugin_hwaddr_is_io(hw)) {
        const uint64_t gpa = qemu_plugin_hwaddr_phys_addr(hw);
        if (NvdimmAt(gpa) != nullptr) base = gpa - va % kGuestPageBytes;
      }
      cache.Fill(vcpu, va, base, epoch);
    }
    if (base != nvlab::plugin::VirtualPageCache::kNotNvdimm) {
      const uint64_t gpa = base + va % kGuestPageBytes;
      if (const FileMapping* m = NvdimmAt(gpa)) {
        const uint64_t in = std::min(len, m->base + m->size - gpa);
        pieces[found++] = {va, gpa, done, in, m};
      }
    }
    done += len;
  }
  return found;
}

// OnLoad (watch-loads=on): any loading instruction, after it executed. Outside a watch window
// it costs the callback and one flag test. It is registered for reads only, so QEMU calls it
// for the load of a read-modify-write too (an atomic's access is a read and a write): that
// reads the line as much as a plain load does.
void OnLoad(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void*) {
  if (!g_state->watching.load(std::memory_order_relaxed)) return;
  const uint64_t size = uint64_t{1} << qemu_plugin_mem_size_shift(info);
  // Nearly every load stays within a page the cache knows to hold no NVDIMM: answered here.
  uint64_t base = 0;
  if (vaddr % kGuestPageBytes + size <= kGuestPageBytes &&
      g_state->load_pages->Lookup(vcpu, vaddr, &base) &&
      base == nvlab::plugin::VirtualPageCache::kNotNvdimm) {
    return;
  }
  AccessPiece pieces[2];
  const size_t count = WatchedPieces(vcpu, info, vaddr, size, pieces);
  if (count == 0) return;
  std::lock_guard<std::mutex> lock(g_state->mutex);
  if (!g_state->watching.load(std::memory_order_relaxed)) return;
  for (size_t i = 0; i < count; ++i) {
    const AccessPiece& p = pieces[i];
    const auto index = static_cast<uint32_t>(p.nvdimm - g_state->nvdimms.data());
    g_state->watched->Add(index, p.gpa - p.nvdimm->base, p.size);
  }
}

// OnTlbFlush: an instruction that invalidates TLB entries (udata: its X86TlbFlush), before it
// runs; the flushes after it walk the tables again. On any vCPU: the cache is shared.
void OnTlbFlush(unsigned int, void* udata) {
  if (g_state->load_pages) {  // watch-loads=on keeps no flush translations.
    g_state->load_pages->Invalidate();
    return;
  }
  const auto flush = static_cast<X86TlbFlush>(reinterpret_cast<uintptr_t>(udata));
  std::lock_guard<std::mutex> lock(g_state->mutex);
  g_state->translations.Invalidate(flush);
}

void OnTranslate(qemu_plugin_id_t, qemu_plugin_tb* tb) {
  size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t i = 0; i < n; ++i) {
    qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
    uint8_t bytes[16];
    size_t size = qemu_plugin_insn_data(insn, bytes, sizeof bytes);
    uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
    // The PC travels as the callback's userdata: no allocation per instruction.
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    void* pc = reinterpret_cast<void*>(static_cast<uintptr_t>(vaddr));
    X86Instruction decoded;
    nvlab::plugin::DecodeX86(bytes, size, vaddr, &decoded);
    if (decoded.tlb_flush != X86TlbFlush::kNone) {
      // NOLINTNEXTLINE(performance-no-int-to-ptr)
      void* flush = reinterpret_cast<void*>(static_cast<uintptr_t>(decoded.tlb_flush));
      qemu_plugin_register_vcpu_insn_exec_cb(insn, OnTlbFlush, QEMU_PLUGIN_CB_NO_REGS, flush);
    }
    if (g_state->options.watch_loads) {
      // The check guest: loads (and the TLB invalidations their page cache follows). QEMU
      // calls a memory callback only for the instruction's accesses, so registering it on
      // every instruction costs nothing where none loads.
      qemu_plugin_register_vcpu_mem_cb(insn, OnLoad, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_R,
                                       nullptr);
      continue;
    }
    switch (decoded.kind) {
      case X86Kind::kClflush:
      case X86Kind::kClflushopt:
      case X86Kind::kClwb:
        qemu_plugin_register_vcpu_insn_exec_cb(
            insn, OnFlush, QEMU_PLUGIN_CB_R_REGS,
            const_cast<X86Instruction*>(InternFlushSite(decoded, bytes, size)));
        break;
      case X86Kind::kCpuid:
        qemu_plugin_register_vcpu_insn_exec_cb(insn, OnCpuid, QEMU_PLUGIN_CB_R_REGS, pc);
        break;
      case X86Kind::kWbinvd:
        qemu_plugin_register_vcpu_insn_exec_cb(insn, OnWbinvd, QEMU_PLUGIN_CB_R_REGS, pc);
        break;
      // R_REGS: ExecutingCpu reads the GS bases.
      case X86Kind::kSfence:
        qemu_plugin_register_vcpu_insn_exec_cb(insn, OnFenceOf<FenceKind::kSfence>,
                                               QEMU_PLUGIN_CB_R_REGS, pc);
        break;
      case X86Kind::kMfence:
        qemu_plugin_register_vcpu_insn_exec_cb(insn, OnFenceOf<FenceKind::kMfence>,
                                               QEMU_PLUGIN_CB_R_REGS, pc);
        break;
      case X86Kind::kLocked:
      case X86Kind::kXchgMemory:
        qemu_plugin_register_vcpu_insn_exec_cb(insn, OnFenceOf<FenceKind::kLocked>,
                                               QEMU_PLUGIN_CB_R_REGS, pc);
        break;
      case X86Kind::kSerializing:
        qemu_plugin_register_vcpu_insn_exec_cb(insn, OnFenceOf<FenceKind::kSerializing>,
                                               QEMU_PLUGIN_CB_R_REGS, pc);
        break;
      case X86Kind::kNonTemporalStore:
        qemu_plugin_register_vcpu_mem_cb(insn, OnNtStore, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_MEM_W,
                                         pc);
        break;
      case X86Kind::kLfence:
      case X86Kind::kOther:
        break;
    }
    // User-space code sits below the canonical hole; kernel code above it.
    constexpr uint64_t kUserCodeEnd = 0x800000000000ULL;
    using TraceStores = nvlab::plugin::PluginOptions::TraceStores;
    TraceStores trace = g_state->options.trace_stores;
    const bool record = !g_state->options.record_path.empty();
    if (decoded.kind != X86Kind::kNonTemporalStore &&
        (record || trace == TraceStores::kAll ||
         (trace == TraceStores::kUser && vaddr < kUserCodeEnd))) {
      qemu_plugin_register_vcpu_mem_cb(insn, OnStore, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_MEM_W, pc);
    }
  }
}

void OnExit(qemu_plugin_id_t, void*) {
  // QEMU is exiting without a cut (guest poweroff, quit): the files keep what QEMU wrote, and
  // an open recording window ends here.
  {
    std::lock_guard<std::mutex> lock(g_state->mutex);
    EndRecording();
  }
  if (g_state->control_fd >= 0) {
    shutdown(g_state->control_fd, SHUT_RDWR);
    unlink(g_state->options.control_path.c_str());
  }
}

}  // namespace

NVLAB_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info,
                                                 int argc, char** argv) {
  std::vector<std::string_view> args(argv, argv + argc);
  auto state = std::make_unique<PluginState>();
  std::string error;
  if (!nvlab::plugin::ParsePluginArguments(args, &state->options, &error)) {
    (void)std::fprintf(stderr, "%s\n", error.c_str());
    return -1;
  }
  if (info == nullptr || !info->system_emulation ||
      std::string_view(info->target_name ? info->target_name : "") != "x86_64") {
    (void)std::fprintf(stderr, "nvlab-plugin: needs qemu-system-x86_64 (system emulation)\n");
    return -1;
  }
  if (state->options.watch_loads && info->system.max_vcpus > 1) {
    // The load page cache is per vCPU, keyed by the index QEMU passes, which under
    // thread=single is the translating vCPU's (virtual_page_cache.h).
    (void)std::fprintf(stderr,
                       "nvlab-plugin: watch-loads=on needs a machine with one vCPU (this one has "
                       "%d)\n",
                       info->system.max_vcpus);
    return -1;
  }
  for (const nvlab::plugin::NvdimmOption& n : state->options.nvdimms) {
    FileMapping m;
    if (!MapFile(n.path, n.base, n.size, true, &m, &error)) {
      (void)std::fprintf(stderr, "nvlab-plugin: nvdimm=%u: %s\n", n.index, error.c_str());
      return -1;
    }
    state->nvdimms.push_back(m);
    // The check guest (watch-loads=on) keeps no model: the host rewrites the files between
    // checks, and nothing here may hold or consult a copy of them.
    if (state->options.watch_loads) continue;
    // The media starts as the file's content, read from its data extents only: a fresh
    // NVDIMM file is sparse, and touching all of it through the mapping costs seconds.
    nvlab::model::ModelStatus status =
        state->domain.AddNvdimm(n.base, n.size, m.data, nvlab::model::MediaStart::kZeroes);
    if (status != nvlab::model::ModelStatus::kOk) {
      (void)std::fprintf(stderr,
                         "nvlab-plugin: nvdimm=%u: %s (base and size must be multiples of 64, "
                         "NVDIMMs must not overlap)\n",
                         n.index, nvlab::model::ModelStatusName(status));
      return -1;
    }
    nvlab::model::NvdimmRegion& region = state->domain.nvdimm(n.index);
    ReadDataExtents(m, region.media());
    int fd = m.fd;
    uint64_t size = m.size;
    region.set_candidate_ranges([fd, size] { return nvlab::plugin::DataExtents(fd, size); });
  }
  for (const nvlab::plugin::RamOption& r : state->options.ram) {
    FileMapping m;
    if (!MapFile(r.path, r.base, r.size, false, &m, &error)) {
      (void)std::fprintf(stderr, "nvlab-plugin: ram=: %s\n", error.c_str());
      return -1;
    }
    state->ram.push_back(m);
  }
  if (state->options.watch_loads) {
    std::vector<uint64_t> sizes;
    for (const FileMapping& m : state->nvdimms) sizes.push_back(m.size);
    state->watched = std::make_unique<nvlab::plugin::LineWatchSet>(sizes);
    state->load_pages = std::make_unique<nvlab::plugin::VirtualPageCache>();
  }
  if (!state->options.record_path.empty()) state->window = PluginState::Window::kWaiting;
  g_state = state.release();
  if (!g_state->options.control_path.empty() &&
      !StartControlSocket(g_state->options.control_path, &error)) {
    (void)std::fprintf(stderr, "nvlab-plugin: %s\n", error.c_str());
    return -1;
  }
  qemu_plugin_register_vcpu_init_cb(id, OnVcpuInit);
  qemu_plugin_register_vcpu_tb_trans_cb(id, OnTranslate);
  qemu_plugin_register_atexit_cb(id, OnExit, nullptr);
  return 0;
}
