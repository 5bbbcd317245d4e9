// File: nvlab/model/cache_line.h
//
// The unit of the persistence model: a 64-byte cache line of an NVDIMM, addressed by the
// guest-physical address of its first byte, and the state a line can be in:
//
//   clean          the media holds what the CPUs see.
//   dirty          stored to since the media last took the line (lost on ADR unless flushed).
//   flush-pending  CLWB/CLFLUSHOPT issued, not yet ordered by a fence on the issuing CPU.
//   wc-buffer      a non-temporal store to the line sits in a CPU's write-combining buffer.
//
// The model does not keep a state byte per line: "dirty" is computed at the cut by comparing
// what the CPUs see with the media, and the other two states are the pending-write-back and
// write-combining lists of each CPU. LineState names the reason a line was lost in a report.
//
// Thread-safety: constants and pure functions.

#ifndef NVLAB_MODEL_CACHE_LINE_H_
#define NVLAB_MODEL_CACHE_LINE_H_

#include <cstdint>

namespace nvlab::model {

inline constexpr uint64_t kLineSize = 64;

// LineBase returns the address of the line holding addr.
constexpr uint64_t LineBase(uint64_t addr) {
  return addr & ~(kLineSize - 1);
}

// ByteMask is one bit per byte of a line (bit i = byte i), e.g. the bytes an NT store covers.
using ByteMask = uint64_t;

// MaskOf returns the mask of bytes [first, first + count) of a line; count <= 64 - first.
constexpr ByteMask MaskOf(uint64_t first, uint64_t count) {
  return count >= kLineSize ? ~ByteMask{0} : (((ByteMask{1} << count) - 1) << first);
}

enum class LineState : uint8_t { kClean, kDirty, kFlushPending, kWcBuffer };

// LineStateName returns the report's spelling: "clean", "dirty", "flush-pending", "wc-buffer".
const char* LineStateName(LineState state);

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_CACHE_LINE_H_
