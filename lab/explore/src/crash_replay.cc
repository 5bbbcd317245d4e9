// crash_replay.cc -- CrashReplay: the model's rules per line, and the crash states they allow.
#include "nvlab/explore/crash_replay.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "nvlab/hex.h"

namespace nvlab::explore {
namespace {

constexpr uint64_t kAllBytes = ~uint64_t{0};

uint64_t MaskOf(uint64_t first, uint64_t count) {
  return count >= kLineBytes ? kAllBytes : (((uint64_t{1} << count) - 1) << first);
}

void Overlay(LineBytes& dst, const LineBytes& src, uint64_t mask) {
  if (mask == kAllBytes) {
    dst = src;
    return;
  }
  for (unsigned i = 0; i < kLineBytes; ++i) {
    if (mask & (uint64_t{1} << i)) dst[i] = src[i];
  }
}

uint64_t DiffMask(const LineBytes& a, const LineBytes& b) {
  uint64_t mask = 0;
  for (unsigned i = 0; i < kLineBytes; ++i) {
    if (a[i] != b[i]) mask |= uint64_t{1} << i;
  }
  return mask;
}

}  // namespace

CrashReplay::CrashReplay(const Recording* recording, model::Platform platform,
                         std::vector<std::span<const uint8_t>> images)
    : recording_(recording), platform_(platform), images_(std::move(images)) {}

Status CrashReplay::Create(const Recording* recording, model::Platform platform,
                           std::vector<std::span<const uint8_t>> initial_images,
                           std::unique_ptr<CrashReplay>* out) {
  NVLAB_RETURN_IF_ERROR(ValidateRecording(*recording));
  if (initial_images.size() != recording->nvdimms.size()) {
    return Status::InvalidArgument("one initial image per NVDIMM is needed (" +
                                   std::to_string(recording->nvdimms.size()) + "), got " +
                                   std::to_string(initial_images.size()));
  }
  for (size_t i = 0; i < initial_images.size(); ++i) {
    if (!initial_images[i].empty() && initial_images[i].size() != recording->nvdimms[i].size) {
      return Status::InvalidArgument("the initial image of NVDIMM " + std::to_string(i) +
                                     " holds " + std::to_string(initial_images[i].size()) +
                                     " bytes, the NVDIMM " +
                                     std::to_string(recording->nvdimms[i].size));
    }
  }
  out->reset(new CrashReplay(recording, platform, std::move(initial_images)));
  return Status::Ok();
}

CrashReplay::LineTrack& CrashReplay::Track(uint64_t line) {
  auto [it, inserted] = lines_.try_emplace(line);
  if (inserted) {
    const int index = recording_->NvdimmOf(line);  // Valid recordings: always found.
    const std::span<const uint8_t> image = images_[index];
    if (!image.empty()) {
      std::memcpy(it->second.initial.data(),
                  image.data() + (line - recording_->nvdimms[index].base), kLineBytes);
    }
    it->second.view = it->second.initial;
    it->second.media = it->second.initial;
  }
  return it->second;
}

uint64_t CrashReplay::WcMask(const LineTrack& track) const {
  uint64_t mask = 0;
  for (unsigned i = 0; i < kLineBytes; ++i) {
    if (track.wc_bytes[i] != 0) mask |= uint64_t{1} << i;
  }
  return mask;
}

void CrashReplay::Changed(uint64_t line, LineTrack& track) {
  if (track.changed) return;
  track.changed = true;
  changed_.push_back(line);
}

std::vector<CrashReplay::PendingWrite>& CrashReplay::Pending(uint32_t cpu) {
  if (cpu >= pending_.size()) pending_.resize(cpu + 1);
  return pending_[cpu];
}

Status CrashReplay::AdvanceTo(uint64_t event_index) {
  if (event_index < position_ || event_index > recording_->events.size()) {
    return Status::InvalidArgument("crash point " + std::to_string(event_index) +
                                   " is behind the replay (" + std::to_string(position_) +
                                   ") or past the recording's " +
                                   std::to_string(recording_->events.size()) + " events");
  }
  for (; position_ < event_index; ++position_) Apply(position_, recording_->events[position_]);
  return Status::Ok();
}

void CrashReplay::Apply(uint64_t index, const RecordedEvent& event) {
  switch (event.kind) {
    case EventKind::kStore:
      Store(index, event);
      break;
    case EventKind::kFlush: {
      const uint64_t line = event.gpa & ~(kLineBytes - 1);
      LineTrack& track = Track(line);
      Changed(line, track);
      if (event.flush == FlushKind::kClflush) {
        // CLFLUSH is ordered with stores: the cached line (not NT bytes) is on the media now,
        // and no older cached version can land over it any more.
        Overlay(track.media, track.view, ~WcMask(track));
        track.line_seq = ++seq_;
        track.evictions.clear();
      } else {
        PendingWrite write;
        write.seq = ++seq_;
        write.event = index;
        write.data = track.view;
        write.mask = ~WcMask(track);
        write.line = line;
        Pending(event.cpu).push_back(write);
      }
      break;
    }
    case EventKind::kFence:
      Fence(event.cpu);
      break;
    case EventKind::kWbinvd:
      Wbinvd(event.cpu);
      break;
  }
}

// Store splits the store at 8-byte boundaries: each piece is a unit of failure atomicity, a
// prefix step of the line's history (plain) or an NT write of its own.
void CrashReplay::Store(uint64_t index, const RecordedEvent& event) {
  uint64_t done = 0;
  while (done < event.size) {
    const uint64_t addr = event.gpa + done;
    const uint64_t count = std::min<uint64_t>(event.size - done, 8 - addr % 8);
    const uint64_t line = addr & ~(kLineBytes - 1);
    const uint64_t offset = addr - line;
    LineTrack& track = Track(line);
    Changed(line, track);
    std::memcpy(track.view.data() + offset, event.bytes.data() + done, count);
    track.last_store = index;
    if (event.non_temporal) {
      PendingWrite write;
      write.seq = ++seq_;
      write.event = index;
      write.data = track.view;
      write.mask = MaskOf(offset, count);
      write.line = line;
      write.non_temporal = true;
      for (uint64_t i = offset; i < offset + count; ++i) ++track.wc_bytes[i];
      Pending(event.cpu).push_back(write);
    } else if (platform_ == model::Platform::kAdr) {
      Write version;
      version.seq = ++seq_;
      version.event = index;
      version.data = track.view;
      version.mask = ~WcMask(track);
      track.evictions.push_back(version);
    }
    done += count;
  }
}

// Fence: the CPU's write-backs and NT stores reach the media in issue order (a write-back
// older than what the media took from a later persist does not land over it).
void CrashReplay::Fence(uint32_t cpu) {
  if (cpu >= pending_.size() || pending_[cpu].empty()) return;
  std::vector<PendingWrite> writes;
  writes.swap(pending_[cpu]);
  for (const PendingWrite& write : writes) {
    LineTrack& track = lines_.at(write.line);
    Changed(write.line, track);
    if (write.non_temporal) {
      Overlay(track.media, write.data, write.mask);
      for (unsigned i = 0; i < kLineBytes; ++i) {
        if (write.mask & (uint64_t{1} << i)) --track.wc_bytes[i];
      }
      // An NT store to a cached line writes that line back first: a cached version older than
      // the NT store cannot land over its bytes once it is fenced.
      for (Write& version : track.evictions) {
        if (version.seq < write.seq) version.mask &= ~write.mask;
      }
    } else if (write.seq > track.line_seq && write.seq > media_floor_) {
      Overlay(track.media, write.data, write.mask);
      track.line_seq = write.seq;
      std::erase_if(track.evictions, [&](const Write& v) { return v.seq < write.seq; });
    }
  }
}

void CrashReplay::Wbinvd(uint32_t cpu) {
  Fence(cpu);  // WBINVD is serializing.
  media_floor_ = ++seq_;
  all_changed_ = true;  // Every line's media and its floor moved.
  for (auto& [line, track] : lines_) {
    if (track.view != track.media) Overlay(track.media, track.view, ~WcMask(track));
    track.evictions.clear();
  }
}

Status CrashReplay::BuildSpace(const SpaceLimits& limits, CrashStateSpace* out) {
  // The lines to compute again, ascending; the others keep their candidates.
  std::vector<uint64_t> lines;
  if (all_changed_) {
    lines.reserve(lines_.size());
    for (const auto& [line, track] : lines_) lines.push_back(line);
  } else {
    lines = changed_;
    std::sort(lines.begin(), lines.end());
  }
  // Each line's pending writes, from every CPU, in issue order.
  std::map<uint64_t, std::vector<const PendingWrite*>> pending_by_line;
  for (const auto& cpu : pending_) {
    for (const PendingWrite& write : cpu) pending_by_line[write.line].push_back(&write);
  }
  for (auto& [line, writes] : pending_by_line) {
    std::sort(writes.begin(), writes.end(),
              [](const PendingWrite* a, const PendingWrite* b) { return a->seq < b->seq; });
  }
  // Computed aside first: an error leaves the replay as it was.
  const std::vector<const PendingWrite*> no_writes;
  std::vector<LineCandidates> rebuilt(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto it = pending_by_line.find(lines[i]);
    NVLAB_RETURN_IF_ERROR(BuildLine(lines[i], lines_.at(lines[i]),
                                    it == pending_by_line.end() ? no_writes : it->second, limits,
                                    &rebuilt[i]));
  }
  for (size_t i = 0; i < lines.size(); ++i) built_[lines[i]] = std::move(rebuilt[i]);
  for (const uint64_t line : changed_) lines_.at(line).changed = false;
  changed_.clear();
  all_changed_ = false;

  CrashStateSpace space;
  space.crash_point = position_;
  // built_ and lines_ hold the same lines now (a line is changed when first tracked).
  auto track = lines_.begin();
  for (const auto& [line, candidates] : built_) {
    if (candidates.contents.size() > limits.max_line_candidates) {
      return Status::NotSupported("line " + FormatHex(line) + " has more than " +
                                  std::to_string(limits.max_line_candidates) +
                                  " possible contents at crash point " + std::to_string(position_));
    }
    const LineBytes& initial = track->second.initial;
    ++track;
    if (candidates.contents.size() == 1) {
      if (candidates.contents[0] != initial) {
        space.determined.push_back({line, candidates.contents[0]});
      }
    } else {
      UndeterminedLine undetermined;
      undetermined.gpa = line;
      undetermined.initial = initial;
      undetermined.candidates = candidates.contents;
      undetermined.sources = candidates.sources;
      space.undetermined.push_back(std::move(undetermined));
    }
  }
  *out = std::move(space);
  return Status::Ok();
}

// BuildLine: the line's candidates at position().
Status CrashReplay::BuildLine(uint64_t line, const LineTrack& track,
                              const std::vector<const PendingWrite*>& pending,
                              const SpaceLimits& limits, LineCandidates* out) const {
  const uint64_t wc_now = WcMask(track);
  const uint64_t media_seq = std::max(track.line_seq, media_floor_);
  // The undetermined writes in issue order; each may or may not have landed.
  std::vector<const Write*> writes;
  for (const Write& version : track.evictions) writes.push_back(&version);
  for (const PendingWrite* write : pending) {
    // A write-back no newer than what the media took never lands (the model's rule).
    if (write->non_temporal || write->seq > media_seq) writes.push_back(write);
  }
  std::stable_sort(writes.begin(), writes.end(),
                   [](const Write* a, const Write* b) { return a->seq < b->seq; });
  Write cached;  // ADR: the cache's copy at the cut, the newest version of all.
  if (platform_ == model::Platform::kAdr && (DiffMask(track.view, track.media) & ~wc_now)) {
    cached.seq = ~uint64_t{0};
    cached.event = track.last_store;
    cached.data = track.view;
    cached.mask = ~wc_now;
    writes.push_back(&cached);
  }
  // Everything landed, in program order: the line as the CPUs saw it last. The cached copy
  // above leaves out bytes NT stores still hold in WC buffers (the model's rule), which misses
  // this image when a plain store overwrote such bytes afterwards.
  Write everything;
  everything.seq = ~uint64_t{0};
  everything.event = track.last_store;
  everything.data = track.view;
  everything.mask = kAllBytes;
  writes.push_back(&everything);

  std::vector<LineBytes> candidates{track.media};
  std::vector<uint64_t> sources{kNoEvent};
  std::set<LineBytes> seen{track.media};
  for (const Write* write : writes) {
    // A write of the whole line gives the same content over any candidate: one is enough.
    const size_t before = write->mask == kAllBytes ? 1 : candidates.size();
    for (size_t c = 0; c < before; ++c) {
      LineBytes next = candidates[c];
      Overlay(next, write->data, write->mask);
      if (seen.insert(next).second) {
        if (candidates.size() == limits.max_line_candidates) {
          return Status::NotSupported("line " + FormatHex(line) + " has more than " +
                                      std::to_string(limits.max_line_candidates) +
                                      " possible contents at crash point " +
                                      std::to_string(position_));
        }
        candidates.push_back(next);
        sources.push_back(write->event);
      }
    }
  }
  if (platform_ == model::Platform::kEadr && (DiffMask(track.view, track.media) & ~wc_now)) {
    // eADR: the cached copy (not the NT bytes) is in the persistence domain: it lands last,
    // over whatever else did.
    std::set<LineBytes> forced_seen;
    std::vector<LineBytes> forced;
    std::vector<uint64_t> forced_sources;
    for (size_t c = 0; c < candidates.size(); ++c) {
      LineBytes next = candidates[c];
      Overlay(next, track.view, ~wc_now);
      if (forced_seen.insert(next).second) {
        forced.push_back(next);
        forced_sources.push_back(sources[c]);
      }
    }
    candidates.swap(forced);
    sources.swap(forced_sources);
  }
  out->contents = std::move(candidates);
  out->sources = std::move(sources);
  return Status::Ok();
}

}  // namespace nvlab::explore
