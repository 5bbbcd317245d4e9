// File: nvlab/explore/crash_points.h
//
// Crash points: the event indexes of a recording where a power cut is considered. Crash point
// k means the cut comes just before event k (events [0, k) ran); k = the event count is "end".
// The option (`--crash-points`, docs/design/exploration.md) reads:
//
//   fences      just before each fence that orders NVDIMM writes (its vCPU has CLWB/CLFLUSHOPT
//               write-backs or NT stores no fence completed yet), just before each WBINVD with
//               such work or with plain stores since the last WBINVD, and the end. The default:
//               there the most lines are undetermined.
//   end         the end only.
//   every:N     before every N-th event (N, 2N, ...) and the end; N >= 1.
//   sample:N    N distinct points drawn with the seed from 1..count (all of them when there are
//               no more than N), N >= 1.
//   LIST        comma-separated event indexes and `end`, e.g. `12,40,end`; each <= count.
//
// Numbers are unsigned decimal (digits only: no sign, space, or exponent; a leading zero is a
// decimal digit) and fit 64 bits. The result is ascending without repeats.
//
// Thread-safety: plain values and pure functions.

#ifndef NVLAB_EXPLORE_CRASH_POINTS_H_
#define NVLAB_EXPLORE_CRASH_POINTS_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "nvlab/explore/recording.h"
#include "nvlab/status.h"

namespace nvlab::explore {

struct CrashPointSpec {
  enum class Kind { kFences, kEnd, kEvery, kSample, kList };
  Kind kind = Kind::kFences;
  uint64_t n = 0;  // every:N, sample:N.
  // kList: the indexes given, in the order given; kEndOfRecording stands for `end`.
  std::vector<uint64_t> list;
  static constexpr uint64_t kEndOfRecording = ~uint64_t{0};
};

// ParseCrashPointSpec returns InvalidArgument naming the problem (and leaves *out unchanged)
// for anything the grammar above does not allow.
Status ParseCrashPointSpec(std::string_view text, CrashPointSpec* out);

// ResolveCrashPoints turns a spec into the crash points of a recording (valid:
// ValidateRecording). InvalidArgument for a list index past the end.
Status ResolveCrashPoints(const CrashPointSpec& spec, const Recording& recording, uint64_t seed,
                          std::vector<uint64_t>* out);

// FenceCrashPoints is `fences` alone: the indexes of the ordering fences and WBINVDs, and the
// end.
std::vector<uint64_t> FenceCrashPoints(const Recording& recording);

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_CRASH_POINTS_H_
