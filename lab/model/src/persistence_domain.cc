// persistence_domain.cc -- PersistenceDomain: events, fences and the power cut.
#include "nvlab/model/persistence_domain.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <utility>

#include "nvlab/model/survival_draw.h"

namespace nvlab::model {
namespace {

// CopyMasked -- (internal) copy the bytes of src selected by mask into dst (64-byte lines).
void CopyMasked(uint8_t* dst, const uint8_t* src, ByteMask mask) {
  if (mask == ~ByteMask{0}) {
    std::memcpy(dst, src, kLineSize);
    return;
  }
  for (unsigned i = 0; i < kLineSize; ++i) {
    if (mask & (ByteMask{1} << i)) dst[i] = src[i];
  }
}

// DiffMask -- (internal) the bytes where two lines differ.
ByteMask DiffMask(const uint8_t* a, const uint8_t* b) {
  ByteMask mask = 0;
  for (unsigned i = 0; i < kLineSize; ++i) {
    if (a[i] != b[i]) mask |= ByteMask{1} << i;
  }
  return mask;
}

// kByLineThenSeq orders undetermined write-backs and NT stores by line, then in issue order.
constexpr auto kByLineThenSeq = [](const auto& a, const auto& b) {
  return a.line != b.line ? a.line < b.line : a.seq < b.seq;
};

// LineShare -- (internal) the entries of a list sorted kByLineThenSeq that concern `line`.
template <typename Work>
std::span<const Work> LineShare(const std::vector<Work>& list, uint64_t line) {
  const auto first = std::partition_point(list.begin(), list.end(),
                                          [line](const Work& w) { return w.line < line; });
  const auto end =
      std::partition_point(first, list.end(), [line](const Work& w) { return w.line == line; });
  return std::span<const Work>(list.data() + (first - list.begin()), end - first);
}

}  // namespace

ModelStatus PersistenceDomain::AddNvdimm(uint64_t base, uint64_t size, uint8_t* external_view,
                                         MediaStart media_start) {
  if (size == 0 || base % kLineSize != 0 || size % kLineSize != 0 || base + size < base) {
    return ModelStatus::kInvalidArgument;
  }
  for (const NvdimmRegion& other : nvdimms_) {
    if (base < other.end() && other.base() < base + size) return ModelStatus::kOverlap;
  }
  NvdimmRegion region(base, size, external_view, media_start);
  if (!region.ok()) return ModelStatus::kOutOfMemory;
  nvdimms_.push_back(std::move(region));
  return ModelStatus::kOk;
}

NvdimmRegion* PersistenceDomain::Locate(uint64_t gpa, uint32_t* index) {
  for (size_t i = 0; i < nvdimms_.size(); ++i) {
    if (nvdimms_[i].Contains(gpa)) {
      *index = static_cast<uint32_t>(i);
      return &nvdimms_[i];
    }
  }
  return nullptr;
}

PersistenceDomain::CpuState* PersistenceDomain::Cpu(unsigned cpu) {
  if (cpu >= kMaxCpus) return nullptr;
  if (cpu >= cpus_.size()) cpus_.resize(cpu + 1);
  return &cpus_[cpu];
}

void PersistenceDomain::NoteWork(CpuState* state) {
  if (state->has_work) return;
  state->has_work = true;
  ++cpus_with_work_;
}

void PersistenceDomain::NoteDrained(CpuState* state) {
  if (!state->has_work) return;
  state->has_work = false;
  --cpus_with_work_;
}

template <typename Fn>
bool PersistenceDomain::ForEachLineChunk(uint64_t gpa, uint64_t size, Fn fn) {
  bool touched = false;
  uint64_t addr = gpa;
  uint64_t done = 0;
  // A range running past the top of the address space is clipped there.
  uint64_t room_minus_one = ~uint64_t{0} - gpa;
  uint64_t remaining = size == 0 ? 0 : std::min(size - 1, room_minus_one) + 1;
  while (remaining > 0) {
    uint32_t index = 0;
    NvdimmRegion* region = Locate(addr, &index);
    uint64_t chunk = 0;
    if (region != nullptr) {
      uint64_t line_end = LineBase(addr) + kLineSize;  // <= region->end(): regions are aligned.
      chunk = std::min(remaining, line_end - addr);
      fn(*region, index, addr, chunk, done);
      touched = true;
    } else {
      // Skip to the next NVDIMM above addr, or stop: no loop over unrelated addresses.
      uint64_t next = 0;
      bool found = false;
      for (const NvdimmRegion& r : nvdimms_) {
        if (r.base() > addr && (!found || r.base() < next)) {
          next = r.base();
          found = true;
        }
      }
      if (!found || next - addr >= remaining) break;
      chunk = next - addr;
    }
    addr += chunk;
    done += chunk;
    remaining -= chunk;
  }
  return touched;
}

ByteMask PersistenceDomain::WcMask(uint64_t line) const {
  auto it = wc_lines_.find(line);
  if (it == wc_lines_.end() || it->second == 0) return 0;
  ByteMask mask = 0;
  for (const CpuState& cpu : cpus_) {
    for (const WriteCombiningBuffer::Entry& entry : cpu.wc.entries()) {
      if (entry.line == line) mask |= entry.bytes;
    }
  }
  return mask;
}

void PersistenceDomain::CommitToMedia(NvdimmRegion& region, uint64_t line, const uint8_t* data,
                                      ByteMask mask, uint64_t seq) {
  uint64_t& stored = region.line_seq(line);
  const uint64_t line_seq = stored > forgotten_seq_ ? stored : 0;
  if (seq <= line_seq || seq <= media_floor_) return;  // The media already took newer content.
  CopyMasked(region.media() + (line - region.base()), data, mask);
  stored = seq;
}

void PersistenceDomain::Store(unsigned cpu, uint64_t gpa, uint64_t size, const uint8_t* bytes,
                              const StoreSite* site) {
  if (Cpu(cpu) == nullptr) {
    ++counters_.ignored_events;
    return;
  }
  if (bytes != nullptr) cut_lines_valid_ = false;  // The view changes after the last cut.
  bool touched = ForEachLineChunk(
      gpa, size, [&](NvdimmRegion& region, uint32_t, uint64_t addr, uint64_t count, uint64_t done) {
        if (bytes != nullptr)
          std::memcpy(region.view() + (addr - region.base()), bytes + done, count);
        if (site != nullptr) last_store_[LineBase(addr)] = *site;
      });
  if (touched) {
    ++counters_.stores;
  } else {
    ++counters_.ignored_events;
  }
}

void PersistenceDomain::NtStore(unsigned cpu, uint64_t gpa, uint64_t size, const uint8_t* bytes,
                                const StoreSite* site) {
  CpuState* state = Cpu(cpu);
  if (state == nullptr || bytes == nullptr) {
    ++counters_.ignored_events;
    return;
  }
  cut_lines_valid_ = false;  // The view changes after the last cut.
  bool touched = ForEachLineChunk(
      gpa, size, [&](NvdimmRegion& region, uint32_t, uint64_t addr, uint64_t count, uint64_t done) {
        std::memcpy(region.view() + (addr - region.base()), bytes + done, count);
        state->wc.Add(addr, count, bytes + done, ++seq_);
        ++wc_lines_[LineBase(addr)];
        if (site != nullptr) last_store_[LineBase(addr)] = *site;
      });
  if (touched) {
    ++counters_.nt_stores;
    NoteWork(state);
  } else {
    ++counters_.ignored_events;
  }
}

void PersistenceDomain::Clflush(unsigned cpu, uint64_t gpa) {
  uint32_t index = 0;
  NvdimmRegion* region = Locate(gpa, &index);
  if (Cpu(cpu) == nullptr || region == nullptr) {
    ++counters_.ignored_events;
    return;
  }
  ++counters_.flushes;
  uint64_t line = LineBase(gpa);
  // CLFLUSH is ordered with stores: the cached line (not the bytes in WC buffers) lands now.
  CommitToMedia(*region, line, region->view() + (line - region->base()), ~WcMask(line), ++seq_);
}

void PersistenceDomain::FlushOpt(unsigned cpu, uint64_t gpa) {
  uint32_t index = 0;
  NvdimmRegion* region = Locate(gpa, &index);
  CpuState* state = Cpu(cpu);
  if (state == nullptr || region == nullptr) {
    ++counters_.ignored_events;
    return;
  }
  ++counters_.flushes;
  PendingWriteBacks::WriteBack write_back;
  write_back.line = LineBase(gpa);
  write_back.seq = ++seq_;
  write_back.valid = ~WcMask(write_back.line);
  std::memcpy(write_back.snapshot.data(), region->view() + (write_back.line - region->base()),
              kLineSize);
  state->write_backs.Add(write_back);
  NoteWork(state);
}

size_t PersistenceDomain::Fence(unsigned cpu) {
  CpuState* state = Cpu(cpu);
  if (state == nullptr) {
    ++counters_.ignored_events;
    return 0;
  }
  ++counters_.fences;
  if (!state->has_work) return 0;
  std::vector<PendingWriteBacks::WriteBack>& write_backs = fence_write_backs_;
  std::vector<WriteCombiningBuffer::Entry>& wc = fence_wc_;
  state->write_backs.DrainInto(&write_backs);
  state->wc.DrainInto(&wc);
  NoteDrained(state);
  // Apply both lists in the order the CPU issued them (each list is already in seq order).
  size_t w = 0;
  size_t n = 0;
  while (w < write_backs.size() || n < wc.size()) {
    bool take_write_back =
        n == wc.size() || (w < write_backs.size() && write_backs[w].seq < wc[n].seq);
    if (take_write_back) {
      const PendingWriteBacks::WriteBack& wb = write_backs[w++];
      uint32_t index = 0;
      if (NvdimmRegion* region = Locate(wb.line, &index)) {
        CommitToMedia(*region, wb.line, wb.snapshot.data(), wb.valid, wb.seq);
      }
    } else {
      const WriteCombiningBuffer::Entry& entry = wc[n++];
      uint32_t index = 0;
      if (NvdimmRegion* region = Locate(entry.line, &index)) {
        // An NT store carries its own bytes, whatever the cache did since: always lands.
        CopyMasked(region->media() + (entry.line - region->base()), entry.data.data(), entry.bytes);
      }
      if (auto it = wc_lines_.find(entry.line); it != wc_lines_.end() && --it->second == 0) {
        wc_lines_.erase(it);
      }
    }
  }
  size_t completed = write_backs.size() + wc.size();
  if (completed > 0) ++counters_.ordering_fences;
  return completed;
}

void PersistenceDomain::Wbinvd(unsigned cpu) {
  if (Cpu(cpu) == nullptr) {
    ++counters_.ignored_events;
    return;
  }
  ++counters_.wbinvds;
  Fence(cpu);  // WBINVD is serializing.
  uint64_t seq = ++seq_;
  for (NvdimmRegion& region : nvdimms_) {
    for (auto [first, end] : region.CandidateLineRanges()) {
      for (uint64_t off = first; off < end; off += kLineSize) {
        const uint8_t* view = region.view() + off;
        uint8_t* media = region.media() + off;
        if (std::memcmp(view, media, kLineSize) != 0) {
          CopyMasked(media, view, ~WcMask(region.base() + off));
        }
      }
    }
  }
  media_floor_ = seq;  // Snapshots taken before the WBINVD are older than the media now.
}

bool PersistenceDomain::HasPendingWork(unsigned cpu) const {
  if (cpu >= cpus_.size()) return false;
  return !cpus_[cpu].write_backs.empty() || !cpus_[cpu].wc.empty();
}

bool PersistenceDomain::HasAnyPendingWork() const {
  return cpus_with_work_ != 0;
}

// LineWork is one line's share of the undetermined work, each list in issue order.
struct PersistenceDomain::LineWork {
  std::span<const PendingWriteBacks::WriteBack> write_backs;
  std::span<const WriteCombiningBuffer::Entry> wc;
};

// Survival decides, by the cut policy, which undetermined writes reach the media: all under
// keep, none under lose, each by the seeded draw under random (in the order they are asked).
class PersistenceDomain::Survival {
 public:
  explicit Survival(const CutPolicy& policy) : kind_(policy.kind), draw_(policy.seed, policy.p) {}
  bool KeepsAll() const { return kind_ == CutPolicy::Kind::kKeep; }
  bool Lands() { return kind_ == CutPolicy::Kind::kRandom && draw_.Lands(); }

 private:
  CutPolicy::Kind kind_;
  SurvivalDraw draw_;
};

// PowerCut takes the lines a cut may change in ascending order (the random policy draws in
// that order), decides what each media line keeps and reports it when that is not what the
// CPUs saw.
PowerCutReport PersistenceDomain::PowerCut(Platform platform, const CutPolicy& policy,
                                           size_t max_listed) {
  PowerCutReport report;
  report.platform = platform;
  report.policy = policy;
  const UndeterminedWork work = DrainUndeterminedWork();
  Survival survival(policy);
  cut_lines_ = CandidateLines(work);
  cut_lines_valid_ = true;
  for (uint64_t line : cut_lines_) {
    uint32_t index = 0;
    NvdimmRegion* region = Locate(line, &index);
    if (region == nullptr) continue;
    const LineWork line_work{LineShare(work.write_backs, line), LineShare(work.wc, line)};
    const ByteMask lost_bytes = CutLine(*region, line, line_work, platform, survival);
    if (lost_bytes != 0) {
      ReportLostLine(index, *region, line, LostState(lost_bytes, line_work), max_listed, &report);
    }
  }
  ForgetPendingState();
  return report;
}

PersistenceDomain::UndeterminedWork PersistenceDomain::DrainUndeterminedWork() {
  UndeterminedWork work;
  for (CpuState& cpu : cpus_) {
    for (const auto& wb : cpu.write_backs.Drain()) work.write_backs.push_back(wb);
    for (const auto& entry : cpu.wc.Drain()) work.wc.push_back(entry);
    NoteDrained(&cpu);
  }
  std::sort(work.write_backs.begin(), work.write_backs.end(), kByLineThenSeq);
  std::sort(work.wc.begin(), work.wc.end(), kByLineThenSeq);
  return work;
}

std::vector<uint64_t> PersistenceDomain::CandidateLines(const UndeterminedWork& work) const {
  std::vector<uint64_t> lines;
  for (const NvdimmRegion& region : nvdimms_) {
    for (auto [first, end] : region.CandidateLineRanges()) {
      for (uint64_t off = first; off < end; off += kLineSize) {
        if (std::memcmp(region.view() + off, region.media() + off, kLineSize) != 0) {
          lines.push_back(region.base() + off);
        }
      }
    }
  }
  for (const auto& wb : work.write_backs) lines.push_back(wb.line);
  for (const auto& entry : work.wc) lines.push_back(entry.line);
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  return lines;
}

uint64_t PersistenceDomain::MediaSeq(const NvdimmRegion& region, uint64_t line) const {
  const uint64_t stored = region.line_seq(line);
  return std::max(media_floor_, stored > forgotten_seq_ ? stored : 0);
}

ByteMask PersistenceDomain::CutLine(NvdimmRegion& region, uint64_t line, const LineWork& work,
                                    Platform platform, Survival& survival) {
  const uint8_t* view = region.view() + (line - region.base());
  uint8_t* media = region.media() + (line - region.base());
  std::array<uint8_t, kLineSize> survivor;
  if (survival.KeepsAll()) {
    std::memcpy(survivor.data(), view, kLineSize);
  } else {
    std::memcpy(survivor.data(), media, kLineSize);
    LandUndeterminedWork(work, MediaSeq(region, line), survival, survivor.data());
    LandCachedCopy(view, media, WcBytes(work), platform, survival, survivor.data());
  }
  std::memcpy(media, survivor.data(), kLineSize);
  return DiffMask(media, view);
}

// LandUndeterminedWork lands the line's undetermined write-backs and NT stores into survivor
// in issue order, each or not as survival draws. A write-back no newer than what the media
// already took (media_seq) does not land over it; it still takes its draw.
void PersistenceDomain::LandUndeterminedWork(const LineWork& work, uint64_t media_seq,
                                             Survival& survival, uint8_t* survivor) {
  size_t i = 0;
  size_t j = 0;
  while (i < work.write_backs.size() || j < work.wc.size()) {
    if (j == work.wc.size() ||
        (i < work.write_backs.size() && work.write_backs[i].seq < work.wc[j].seq)) {
      const PendingWriteBacks::WriteBack& wb = work.write_backs[i++];
      if (survival.Lands() && wb.seq > media_seq)
        CopyMasked(survivor, wb.snapshot.data(), wb.valid);
    } else {
      const WriteCombiningBuffer::Entry& entry = work.wc[j++];
      if (survival.Lands()) CopyMasked(survivor, entry.data.data(), entry.bytes);
    }
  }
}

// LandCachedCopy: the cache's own copy of a dirty line is the newest; it lands whole (but for
// the bytes in WC buffers, which are not the cache's) under eADR, else as survival draws.
void PersistenceDomain::LandCachedCopy(const uint8_t* view, const uint8_t* media, ByteMask wc_bytes,
                                       Platform platform, Survival& survival, uint8_t* survivor) {
  const ByteMask dirty = DiffMask(view, media) & ~wc_bytes;
  if (dirty != 0 && (platform == Platform::kEadr || survival.Lands())) {
    CopyMasked(survivor, view, ~wc_bytes);
  }
}

// WcBytes: the bytes of the line that wait in WC buffers.
ByteMask PersistenceDomain::WcBytes(const LineWork& work) {
  ByteMask mask = 0;
  for (const WriteCombiningBuffer::Entry& entry : work.wc) mask |= entry.bytes;
  return mask;
}

// LostState says why a lost line was not durable (the order power_cut_report.h gives).
LineState PersistenceDomain::LostState(ByteMask lost_bytes, const LineWork& work) {
  if (lost_bytes & WcBytes(work)) return LineState::kWcBuffer;
  if (!work.write_backs.empty()) return LineState::kFlushPending;
  return LineState::kDirty;
}

void PersistenceDomain::ReportLostLine(uint32_t index, const NvdimmRegion& region, uint64_t line,
                                       LineState state, size_t max_listed,
                                       PowerCutReport* report) const {
  LostLine lost;
  lost.nvdimm = index;
  lost.offset = line - region.base();
  lost.gpa = line;
  lost.state = state;
  if (auto it = last_store_.find(line); it != last_store_.end()) {
    lost.site_known = true;
    lost.last_store = it->second;
  }
  ++report->lost_lines;
  if (state == LineState::kWcBuffer) {
    ++report->lost_wc_buffer;
  } else if (state == LineState::kFlushPending) {
    ++report->lost_flush_pending;
  } else {
    ++report->lost_dirty;
  }
  if (report->lost.size() < max_listed) report->lost.push_back(lost);
}

void PersistenceDomain::ForgetPendingState() {
  wc_lines_.clear();
  forgotten_seq_ = seq_;  // Every line_seq so far: no write-back is newer than a power-off.
  last_store_.clear();
  media_floor_ = 0;
}

uint64_t PersistenceDomain::WriteSurvivorsToView() {
  uint64_t rewritten = 0;
  if (cut_lines_valid_) {
    // Right after a cut: elsewhere view and media were equal when it compared them, and it
    // changed only media lines among these. One scan of the candidate ranges, not two.
    for (uint64_t line : cut_lines_) {
      uint32_t index = 0;
      NvdimmRegion* region = Locate(line, &index);
      if (region == nullptr) continue;
      const uint64_t off = line - region->base();
      if (std::memcmp(region->view() + off, region->media() + off, kLineSize) != 0) {
        std::memcpy(region->view() + off, region->media() + off, kLineSize);
        ++rewritten;
      }
    }
    return rewritten;
  }
  for (NvdimmRegion& region : nvdimms_) {
    for (auto [first, end] : region.CandidateLineRanges()) {
      for (uint64_t off = first; off < end; off += kLineSize) {
        if (std::memcmp(region.view() + off, region.media() + off, kLineSize) != 0) {
          std::memcpy(region.view() + off, region.media() + off, kLineSize);
          ++rewritten;
        }
      }
    }
  }
  return rewritten;
}

}  // namespace nvlab::model
