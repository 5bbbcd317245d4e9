// File: nvlab/explore/crash_state_space.h
//
// CrashStateSpace is every image of the NVDIMMs that a power cut at one crash point may leave,
// as the persistence model allows it (docs/design/exploration.md; CrashReplay builds it):
//
//   determined lines    whose content is guaranteed (flushed and fenced, CLFLUSH, NT + fence,
//                       WBINVD, eADR) and differs from the initial image;
//   undetermined lines  each with two or more distinct candidate contents: candidate 0 is what
//                       the platform guarantees (nothing undetermined landed), then the contents
//                       later writes can leave (a prefix of the stores made to the line since
//                       its last guaranteed persist, 8-byte pieces of a wide or unaligned store
//                       landing one by one; pending NT stores landing or not).
//   lines not listed    hold their initial content (the recording's initial image).
//
// A state is one choice per undetermined line (StateChoices: a candidate index each). Two
// different choice vectors of one space always give different images (the candidates of a line
// are distinct); the same image can appear at two crash points (crash_image.h deduplicates).
//
// Thread-safety: a plain value.

#ifndef NVLAB_EXPLORE_CRASH_STATE_SPACE_H_
#define NVLAB_EXPLORE_CRASH_STATE_SPACE_H_

#include <array>
#include <cstdint>
#include <vector>

#include "nvlab/explore/recording.h"
#include "nvlab/explore/state_count.h"

namespace nvlab::explore {

using LineBytes = std::array<uint8_t, kLineBytes>;
using StateChoices = std::vector<uint32_t>;

inline constexpr uint64_t kNoEvent = ~uint64_t{0};

struct DeterminedLine {
  uint64_t gpa = 0;  // First byte of the line.
  LineBytes content{};
};

struct UndeterminedLine {
  uint64_t gpa = 0;                   // First byte of the line.
  LineBytes initial{};                // The line in the initial image.
  std::vector<LineBytes> candidates;  // At least two, all different; [0] as guaranteed.
  // sources[i]: the index of the event whose write made candidates[i] (the last store,
  // flush or NT store it lands), kNoEvent for candidate 0 when nothing undetermined made it.
  std::vector<uint64_t> sources;
};

struct CrashStateSpace {
  uint64_t crash_point = 0;  // The cut comes before this event: events [0, crash_point) ran.
  std::vector<DeterminedLine> determined;      // Ascending gpa.
  std::vector<UndeterminedLine> undetermined;  // Ascending gpa.

  // Count is the number of states: the product of the candidate counts (1 with none).
  StateCount Count() const;
  // UndeterminedIndex returns the index in `undetermined` of the line holding gpa, or -1.
  int64_t UndeterminedIndex(uint64_t gpa) const;
  // ValidChoices says whether choices has one valid candidate index per undetermined line.
  bool ValidChoices(const StateChoices& choices) const;
  // ForEachLine calls fn(gpa, const LineBytes&) in ascending gpa for every line of the image
  // `choices` names that is determined or undetermined (so possibly different from the initial
  // image). choices must be valid.
  template <typename Fn>
  void ForEachLine(const StateChoices& choices, Fn fn) const {
    size_t d = 0;
    for (size_t u = 0; u <= undetermined.size(); ++u) {
      const uint64_t limit = u < undetermined.size() ? undetermined[u].gpa : ~uint64_t{0};
      while (d < determined.size() && determined[d].gpa < limit) {
        fn(determined[d].gpa, determined[d].content);
        ++d;
      }
      if (u < undetermined.size()) fn(undetermined[u].gpa, undetermined[u].candidates[choices[u]]);
    }
  }
};

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_CRASH_STATE_SPACE_H_
