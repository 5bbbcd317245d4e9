// File: nvlab/model/persistence_domain.h
//
// PersistenceDomain is nvlab's persistence model (docs/design/persistence-model.md): the NVDIMMs of
// one machine, what their CPUs see, what their media hold, and the events that move data from the
// one to the other. Feed it the guest's events in execution order; at a power cut it decides,
// by platform (adr/eadr) and cut policy (lose/keep/random), what the media keep, and lists
// what was lost.
//
// Two ways to drive it:
//   * explicit stores (unit tests, a recording plugin): NVDIMMs own their view; Store() with
//     bytes writes them into the view and marks the line dirty.
//   * external view (the TCG plugin without store callbacks): each NVDIMM's view is the
//     plugin's MAP_SHARED mapping of the backing file, where every guest store already is.
//     Dirty lines are the lines where view and media differ, found at the cut by comparison;
//     Store() with null bytes only records the store's site (pc, cr3) for the report.
//
// Events (cpu is a vCPU index < kMaxCpus; addresses are guest-physical; anything outside
// every NVDIMM is ignored and counted, a range crossing an NVDIMM's end is clipped):
//   Store       plain store: the line becomes dirty (with eADR, durable at once).
//   NtStore     non-temporal store: into `cpu`'s write-combining buffer (and into the view,
//               which is what the CPUs read back); durable once `cpu` fences.
//   Clflush     CLFLUSH: the line as cached reaches the media now.
//   FlushOpt    CLWB or CLFLUSHOPT: a snapshot of the line, pending until `cpu` fences.
//   Fence       SFENCE, MFENCE, a LOCK-prefixed instruction, XCHG with memory, any serializing
//               instruction: `cpu`'s pending snapshots and WC buffer reach the media.
//   Wbinvd      WBINVD: a fence, then every dirty line of the cache reaches the media.
//   PowerCut    applies platform and policy; afterwards media() holds the surviving image,
//               pending snapshots and WC buffers are empty, and the view is untouched until
//               WriteSurvivorsToView().
// Write-backs are ordered by a sequence number: a flush-pending snapshot older than what the
// media already took from a later CLFLUSH or WBINVD is not written over it.
//
// Not modelled: store histories within a line (a surviving dirty line lands whole, as last
// seen: no crash states at 8-byte granularity), cache evictions outside a cut (they are what
// the random policy stands for).
//
// Thread-safety: not safe for concurrent use; the plugin serialises calls (QEMU runs one TCG
// thread, and the control socket takes the same lock).

#ifndef NVLAB_MODEL_PERSISTENCE_DOMAIN_H_
#define NVLAB_MODEL_PERSISTENCE_DOMAIN_H_

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "nvlab/model/cache_line.h"
#include "nvlab/model/cut_policy.h"
#include "nvlab/model/model_status.h"
#include "nvlab/model/nvdimm_region.h"
#include "nvlab/model/pending_write_backs.h"
#include "nvlab/model/power_cut_report.h"
#include "nvlab/model/write_combining_buffer.h"

namespace nvlab::model {

// DomainCounters are totals since construction, for reports and self-checks.
struct DomainCounters {
  uint64_t stores = 0;           // Store events that touched an NVDIMM.
  uint64_t nt_stores = 0;        // NtStore events that touched an NVDIMM.
  uint64_t flushes = 0;          // Clflush and FlushOpt events on NVDIMM lines.
  uint64_t fences = 0;           // Fence events (any address, any CPU).
  uint64_t ordering_fences = 0;  // Fences that completed at least one write-back or NT store.
  uint64_t wbinvds = 0;
  uint64_t ignored_events = 0;  // Events wholly outside every NVDIMM, or with a bad cpu.
};

class PersistenceDomain {
 public:
  static constexpr unsigned kMaxCpus = 1024;

  PersistenceDomain() = default;
  PersistenceDomain(const PersistenceDomain&) = delete;
  PersistenceDomain& operator=(const PersistenceDomain&) = delete;

  // AddNvdimm adds an NVDIMM at guest-physical [base, base + size). external_view, when not
  // null, is `size` bytes the caller keeps alive and readable (and writable, for
  // WriteSurvivorsToView) for the domain's lifetime; the media starts as a copy of it, unless
  // media_start says otherwise.
  // Returns kInvalidArgument for a zero or unaligned base/size or an overflowing range,
  // kOverlap when the range meets an NVDIMM already added. NVDIMM indexes follow call order.
  // media_start kZeroes lets the caller write the initial media itself (nvdimm(i).media()),
  // e.g. only the data extents of a sparse file. kOutOfMemory when the images cannot be had.
  ModelStatus AddNvdimm(uint64_t base, uint64_t size, uint8_t* external_view,
                        MediaStart media_start = MediaStart::kCopyOfView);

  size_t nvdimm_count() const { return nvdimms_.size(); }
  const NvdimmRegion& nvdimm(size_t index) const { return nvdimms_[index]; }
  NvdimmRegion& nvdimm(size_t index) { return nvdimms_[index]; }

  // Store: `size` bytes at gpa; bytes may be null (external view: the store is already there).
  // site, when given, is remembered as the line's last store for the report.
  void Store(unsigned cpu, uint64_t gpa, uint64_t size, const uint8_t* bytes,
             const StoreSite* site = nullptr);
  // NtStore: bytes must not be null (the plugin passes the value the mem callback saw).
  void NtStore(unsigned cpu, uint64_t gpa, uint64_t size, const uint8_t* bytes,
               const StoreSite* site = nullptr);
  // Clflush / FlushOpt take any address within the line.
  void Clflush(unsigned cpu, uint64_t gpa);
  void FlushOpt(unsigned cpu, uint64_t gpa);
  // Fence returns how many pending write-backs and NT stores of `cpu` it completed.
  size_t Fence(unsigned cpu);
  void Wbinvd(unsigned cpu);

  // PowerCut decides what survives; lists at most max_listed lost lines (all are counted).
  PowerCutReport PowerCut(Platform platform, const CutPolicy& policy, size_t max_listed);

  // WriteSurvivorsToView copies the media into the view wherever they differ, line by line,
  // so that the view (the backing file, for the plugin) holds the surviving image. Returns
  // the number of lines rewritten. Right after a PowerCut it looks only at the lines that cut
  // found dirty or with pending work (everywhere else view and media were equal then), until a
  // Store with bytes or an NtStore changes the view; an external view must not change between
  // the two calls (the plugin makes both with the CPUs stopped). Otherwise it compares the
  // candidate ranges.
  uint64_t WriteSurvivorsToView();

  // HasPendingWork says whether `cpu` has pending write-backs or NT stores (a fence would
  // order something).
  bool HasPendingWork(unsigned cpu) const;
  // HasAnyPendingWork says whether any CPU has pending write-backs or NT stores. When none has,
  // a fence orders nothing whichever CPU runs it (the plugin then skips finding out which).
  bool HasAnyPendingWork() const;

  const DomainCounters& counters() const { return counters_; }

 private:
  struct CpuState {
    PendingWriteBacks write_backs;
    WriteCombiningBuffer wc;
    bool has_work = false;  // !write_backs.empty() || !wc.empty(), kept by NoteWork/NoteDrained.
  };

  // Locate finds the NVDIMM holding gpa, or null.
  NvdimmRegion* Locate(uint64_t gpa, uint32_t* index);
  CpuState* Cpu(unsigned cpu);
  // NoteWork / NoteDrained keep CpuState::has_work and cpus_with_work_ after adding to a CPU's
  // lists or draining both: HasAnyPendingWork runs after every event, and a loop over every CPU
  // there cost the plugin more than the events themselves.
  void NoteWork(CpuState* state);
  void NoteDrained(CpuState* state);
  // ForEachLineChunk calls fn(region, index, addr, count) for each line-sized piece of
  // [gpa, gpa + size) inside an NVDIMM; returns false if no byte was inside one.
  template <typename Fn>
  bool ForEachLineChunk(uint64_t gpa, uint64_t size, Fn fn);
  // WcMask: bytes of `line` waiting in any CPU's WC buffer.
  ByteMask WcMask(uint64_t line) const;
  // CommitToMedia copies the bytes in `mask` of data into the media line if seq is newer
  // than what the media line last took.
  void CommitToMedia(NvdimmRegion& region, uint64_t line, const uint8_t* data, ByteMask mask,
                     uint64_t seq);

  // PowerCut's steps, in the order it takes them (LineWork and Survival are defined in
  // persistence_domain.cc).
  // UndeterminedWork: at a cut, every write-back and NT store no fence completed, each list
  // sorted by line, then in issue order.
  struct UndeterminedWork {
    std::vector<PendingWriteBacks::WriteBack> write_backs;
    std::vector<WriteCombiningBuffer::Entry> wc;
  };
  struct LineWork;
  class Survival;
  // DrainUndeterminedWork empties every CPU's pending write-backs and WC buffer.
  UndeterminedWork DrainUndeterminedWork();
  // CandidateLines: the lines a cut may change, ascending: dirty (view differs from media)
  // or with undetermined work.
  std::vector<uint64_t> CandidateLines(const UndeterminedWork& work) const;
  // MediaSeq: the seq of the newest write-back the media line took (WBINVD included).
  uint64_t MediaSeq(const NvdimmRegion& region, uint64_t line) const;
  // CutLine decides what the media line keeps and writes it there; returns the bytes where
  // that differs from what the CPUs saw (the view): the lost bytes.
  ByteMask CutLine(NvdimmRegion& region, uint64_t line, const LineWork& work, Platform platform,
                   Survival& survival);
  static void LandUndeterminedWork(const LineWork& work, uint64_t media_seq, Survival& survival,
                                   uint8_t* survivor);
  static void LandCachedCopy(const uint8_t* view, const uint8_t* media, ByteMask wc_bytes,
                             Platform platform, Survival& survival, uint8_t* survivor);
  static ByteMask WcBytes(const LineWork& work);
  static LineState LostState(ByteMask lost_bytes, const LineWork& work);
  // ReportLostLine counts a lost line and lists it while fewer than max_listed are.
  void ReportLostLine(uint32_t index, const NvdimmRegion& region, uint64_t line, LineState state,
                      size_t max_listed, PowerCutReport* report) const;
  // ForgetPendingState: the machine is off, nothing is pending or ordered any more.
  void ForgetPendingState();

  std::vector<NvdimmRegion> nvdimms_;
  std::vector<CpuState> cpus_;
  size_t cpus_with_work_ = 0;  // CPUs whose has_work is set.
  // Fence's copies of a CPU's lists, kept to reuse their storage (no allocation per fence).
  std::vector<PendingWriteBacks::WriteBack> fence_write_backs_;
  std::vector<WriteCombiningBuffer::Entry> fence_wc_;
  uint64_t seq_ = 0;          // Event sequence number, increases with every flush/NT store.
  uint64_t media_floor_ = 0;  // Every media line took its cached content at this seq (WBINVD).
  // Each region's line_seq holds the seq of the line's last write-back; those up to
  // forgotten_seq_ were forgotten at a power cut (and read as 0).
  uint64_t forgotten_seq_ = 0;
  std::unordered_map<uint64_t, uint32_t> wc_lines_;     // line -> WC entries waiting on it.
  std::unordered_map<uint64_t, StoreSite> last_store_;  // line -> last reported store site.
  // The lines the last PowerCut decided (ascending), for WriteSurvivorsToView; valid until a
  // model event writes the view.
  std::vector<uint64_t> cut_lines_;
  bool cut_lines_valid_ = false;
  DomainCounters counters_;
};

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_PERSISTENCE_DOMAIN_H_
