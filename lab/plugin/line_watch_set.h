// File: lab/plugin/line_watch_set.h
//
// LineWatchSet is the set of NVDIMM lines a check read (watch-loads=on, crash-state
// exploration's pruning: docs/design/exploration.md): each 64-byte line once, in the order of
// its first read. A bitmap per NVDIMM answers "seen?" in O(1) per load; a vector keeps the
// order. Clear() costs the lines watched, not the NVDIMMs' size.
//
// Format() is the file `watch-end <path>` writes: one line per watched line, in first-read
// order, "<nvdimm-index> <line-index>\n" (line-index = byte offset / 64, decimal).
//
// Life cycle: built once for the NVDIMMs' sizes; Clear / Add / lines / Format any number of
// times. Thread-safety: not safe for concurrent use (the plugin holds its mutex).

#ifndef NVLAB_PLUGIN_LINE_WATCH_SET_H_
#define NVLAB_PLUGIN_LINE_WATCH_SET_H_

#include <cstdint>
#include <string>
#include <vector>

namespace nvlab::plugin {

class LineWatchSet {
 public:
  struct Line {
    uint32_t nvdimm = 0;
    uint64_t line = 0;  // Byte offset in the NVDIMM / 64.
    bool operator==(const Line&) const = default;
  };

  // nvdimm_sizes: bytes of each NVDIMM, by index.
  explicit LineWatchSet(const std::vector<uint64_t>& nvdimm_sizes);

  // Add watches every line of NVDIMM `nvdimm` that [offset, offset + size) touches (clipped to
  // the NVDIMM; an unknown index or an empty range adds nothing).
  void Add(uint32_t nvdimm, uint64_t offset, uint64_t size);
  void Clear();

  const std::vector<Line>& lines() const { return lines_; }
  std::string Format() const;

 private:
  bool TestAndSet(uint32_t nvdimm, uint64_t line);

  std::vector<uint64_t> sizes_;
  std::vector<std::vector<uint64_t>> seen_;  // Per NVDIMM, one bit per line.
  std::vector<Line> lines_;
};

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_LINE_WATCH_SET_H_
