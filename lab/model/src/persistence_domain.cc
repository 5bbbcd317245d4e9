// persistence_domain.cc -- PersistenceDomain: events, fences and the power cut.
#include "nvlab/model/persistence_domain.h"

#include <algorithm>
#include <array>
#include <cstring>
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
  uint64_t& line_seq = media_seq_[line];
  if (seq <= line_seq || seq <= media_floor_) return;  // The media already took newer content.
  CopyMasked(region.media() + (line - region.base()), data, mask);
  line_seq = seq;
}

void PersistenceDomain::Store(unsigned cpu, uint64_t gpa, uint64_t size, const uint8_t* bytes,
                              const StoreSite* site) {
  if (Cpu(cpu) == nullptr) {
    ++counters_.ignored_events;
    return;
  }
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
  bool touched = ForEachLineChunk(
      gpa, size, [&](NvdimmRegion& region, uint32_t, uint64_t addr, uint64_t count, uint64_t done) {
        std::memcpy(region.view() + (addr - region.base()), bytes + done, count);
        state->wc.Add(addr, count, bytes + done, ++seq_);
        ++wc_lines_[LineBase(addr)];
        if (site != nullptr) last_store_[LineBase(addr)] = *site;
      });
  if (touched) {
    ++counters_.nt_stores;
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
}

size_t PersistenceDomain::Fence(unsigned cpu) {
  CpuState* state = Cpu(cpu);
  if (state == nullptr) {
    ++counters_.ignored_events;
    return 0;
  }
  ++counters_.fences;
  std::vector<PendingWriteBacks::WriteBack> write_backs = state->write_backs.Drain();
  std::vector<WriteCombiningBuffer::Entry> wc = state->wc.Drain();
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
  for (unsigned cpu = 0; cpu < cpus_.size(); ++cpu) {
    if (HasPendingWork(cpu)) return true;
  }
  return false;
}

PowerCutReport PersistenceDomain::PowerCut(Platform platform, const CutPolicy& policy,
                                           size_t max_listed) {
  PowerCutReport report;
  report.platform = platform;
  report.policy = policy;

  // Every undetermined write-back, sorted by line then seq.
  std::vector<PendingWriteBacks::WriteBack> write_backs;
  std::vector<WriteCombiningBuffer::Entry> wc;
  for (CpuState& cpu : cpus_) {
    for (const auto& wb : cpu.write_backs.Drain()) write_backs.push_back(wb);
    for (const auto& entry : cpu.wc.Drain()) wc.push_back(entry);
  }
  auto by_line_then_seq = [](const auto& a, const auto& b) {
    return a.line != b.line ? a.line < b.line : a.seq < b.seq;
  };
  std::sort(write_backs.begin(), write_backs.end(), by_line_then_seq);
  std::sort(wc.begin(), wc.end(), by_line_then_seq);

  // Candidate lines: dirty (view differs from media), flush-pending, or in a WC buffer.
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
  for (const auto& wb : write_backs) lines.push_back(wb.line);
  for (const auto& entry : wc) lines.push_back(entry.line);
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());

  SurvivalDraw draw(policy.seed, policy.p);
  auto lands = [&]() { return policy.kind == CutPolicy::Kind::kRandom && draw.Lands(); };
  size_t w = 0;
  size_t n = 0;
  for (uint64_t line : lines) {
    uint32_t index = 0;
    NvdimmRegion* region = Locate(line, &index);
    size_t w_first = w;
    while (w < write_backs.size() && write_backs[w].line == line) ++w;
    size_t n_first = n;
    while (n < wc.size() && wc[n].line == line) ++n;
    if (region == nullptr) continue;
    const uint8_t* view = region->view() + (line - region->base());
    uint8_t* media = region->media() + (line - region->base());

    ByteMask wc_mask = 0;
    for (size_t i = n_first; i < n; ++i) wc_mask |= wc[i].bytes;
    std::array<uint8_t, kLineSize> survivor;
    std::memcpy(survivor.data(), media, kLineSize);

    if (policy.kind == CutPolicy::Kind::kKeep) {
      std::memcpy(survivor.data(), view, kLineSize);
    } else {
      // Undetermined write-backs in issue order, each landing or not.
      uint64_t line_seq = std::max(media_floor_, media_seq_.count(line) ? media_seq_[line] : 0);
      size_t i = w_first;
      size_t j = n_first;
      while (i < w || j < n) {
        if (j == n || (i < w && write_backs[i].seq < wc[j].seq)) {
          const auto& wb = write_backs[i++];
          if (lands() && wb.seq > line_seq)
            CopyMasked(survivor.data(), wb.snapshot.data(), wb.valid);
        } else {
          const auto& entry = wc[j++];
          if (lands()) CopyMasked(survivor.data(), entry.data.data(), entry.bytes);
        }
      }
      // The cache's own copy of the line is the newest: guaranteed under eADR.
      ByteMask dirty = DiffMask(view, media) & ~wc_mask;
      if (dirty != 0 && (platform == Platform::kEadr || lands())) {
        CopyMasked(survivor.data(), view, ~wc_mask);
      }
    }

    ByteMask lost_bytes = DiffMask(survivor.data(), view);
    std::memcpy(media, survivor.data(), kLineSize);
    if (lost_bytes == 0) continue;
    LostLine lost;
    lost.nvdimm = index;
    lost.offset = line - region->base();
    lost.gpa = line;
    if (lost_bytes & wc_mask) {
      lost.state = LineState::kWcBuffer;
      ++report.lost_wc_buffer;
    } else if (w > w_first) {
      lost.state = LineState::kFlushPending;
      ++report.lost_flush_pending;
    } else {
      lost.state = LineState::kDirty;
      ++report.lost_dirty;
    }
    if (auto it = last_store_.find(line); it != last_store_.end()) {
      lost.site_known = true;
      lost.last_store = it->second;
    }
    ++report.lost_lines;
    if (report.lost.size() < max_listed) report.lost.push_back(lost);
  }

  // The machine is off: nothing is pending any more.
  wc_lines_.clear();
  media_seq_.clear();
  last_store_.clear();
  media_floor_ = 0;
  return report;
}

uint64_t PersistenceDomain::WriteSurvivorsToView() {
  uint64_t rewritten = 0;
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
