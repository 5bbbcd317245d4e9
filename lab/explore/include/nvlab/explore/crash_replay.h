// File: nvlab/explore/crash_replay.h
//
// CrashReplay replays a recording's events through the persistence model's rules
// (docs/design/persistence-model.md, the same rules nvlab::model::PersistenceDomain applies),
// keeping for every line the recording touched:
//
//   what the CPUs see, what the media holds for certain (the `lose` image), the per-CPU
//   write-backs (CLWB/CLFLUSHOPT snapshots) and NT stores no fence has ordered yet, and the
//   cached versions of the line since its last guaranteed persist (one per store, or per
//   8-byte piece of a wide or unaligned store: any of them may have been evicted to the media).
//
// At any event index, BuildSpace gives the CrashStateSpace of a cut there: per line, the set of
// contents reachable from the certain media by landing, in issue order, any subset of those
// undetermined writes (docs/design/exploration.md "Crash states" for the rules and why the
// result contains every image the model's random cut policy can produce).
//
// BuildSpace is incremental: it keeps each line's candidates from its last call and recomputes
// only the lines an event changed since (a store, flush or fence touching the line; a WBINVD
// changes every line). A file system's recording touches thousands of lines and has a crash
// point every few hundred events, most of which leave most lines as they were. The result is
// the same as a fresh replay's first BuildSpace at that point (tests/explore check it).
//
// Life cycle: Create, then AdvanceTo ascending event indexes (one pass over the recording for
// every crash point), BuildSpace at each. The recording and the initial images must outlive it.
// Thread-safety: an object is not safe for concurrent use.

#ifndef NVLAB_EXPLORE_CRASH_REPLAY_H_
#define NVLAB_EXPLORE_CRASH_REPLAY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/recording.h"
#include "nvlab/model/cut_policy.h"
#include "nvlab/status.h"

namespace nvlab::explore {

struct SpaceLimits {
  // A line with more distinct candidate contents than this makes BuildSpace fail
  // (NotSupported): a workload storing to one line thousands of times without a persist.
  size_t max_line_candidates = 4096;
};

class CrashReplay {
 public:
  // Create checks the recording (ValidateRecording) and the images: initial_images has one
  // entry per NVDIMM, each empty (the media started as zeroes) or exactly the NVDIMM's size.
  static Status Create(const Recording* recording, model::Platform platform,
                       std::vector<std::span<const uint8_t>> initial_images,
                       std::unique_ptr<CrashReplay>* out);

  // position: how many events were replayed (the crash point BuildSpace describes).
  uint64_t position() const { return position_; }
  // AdvanceTo replays events up to (not including) event_index; InvalidArgument when it is
  // behind position() or past the end.
  Status AdvanceTo(uint64_t event_index);
  // BuildSpace describes a cut at position(). On an error (a line over the limits) *out is
  // unchanged and the replay stays usable: a later call with other limits works.
  Status BuildSpace(const SpaceLimits& limits, CrashStateSpace* out);

 private:
  struct Write {  // A write that may reach the media: its bytes in place in a line.
    uint64_t seq = 0;
    uint64_t event = 0;
    LineBytes data{};
    uint64_t mask = 0;  // The bytes it writes (bit i: byte i).
  };
  struct PendingWrite : Write {
    uint64_t line = 0;
    bool non_temporal = false;
  };
  struct LineTrack {
    LineBytes initial{};
    LineBytes view{};
    LineBytes media{};
    uint64_t line_seq = 0;           // seq of the last write-back the media took (not WBINVD).
    uint64_t last_store = kNoEvent;  // Index of the last store to the line.
    std::vector<Write> evictions;    // ADR: cached versions since the last guaranteed persist.
    std::array<uint16_t, kLineBytes> wc_bytes{};  // Per byte: pending NT stores covering it.
    bool changed = false;  // Listed in changed_: its candidates need computing again.
  };
  // LineCandidates is a line's part of the last space built: its distinct contents ([0] the
  // guaranteed one) and the event that made each; one candidate: the line is determined.
  struct LineCandidates {
    std::vector<LineBytes> contents;
    std::vector<uint64_t> sources;
  };

  CrashReplay(const Recording* recording, model::Platform platform,
              std::vector<std::span<const uint8_t>> images);
  LineTrack& Track(uint64_t line);
  uint64_t WcMask(const LineTrack& track) const;
  void Apply(uint64_t index, const RecordedEvent& event);
  void Store(uint64_t index, const RecordedEvent& event);
  void Fence(uint32_t cpu);
  void Wbinvd(uint32_t cpu);
  std::vector<PendingWrite>& Pending(uint32_t cpu);
  void Changed(uint64_t line, LineTrack& track);
  Status BuildLine(uint64_t line, const LineTrack& track,
                   const std::vector<const PendingWrite*>& pending, const SpaceLimits& limits,
                   LineCandidates* out) const;

  const Recording* recording_;
  model::Platform platform_;
  std::vector<std::span<const uint8_t>> images_;
  uint64_t position_ = 0;
  uint64_t seq_ = 0;
  uint64_t media_floor_ = 0;  // Every media line took its cached content at this seq (WBINVD).
  std::map<uint64_t, LineTrack> lines_;
  std::vector<std::vector<PendingWrite>> pending_;  // Per vCPU, in issue order.
  // The incremental space: every line's candidates as of the last BuildSpace, and the lines
  // changed since (all of them after a WBINVD: the media floor moved under every line).
  std::map<uint64_t, LineCandidates> built_;
  std::vector<uint64_t> changed_;
  bool all_changed_ = false;
};

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_CRASH_REPLAY_H_
