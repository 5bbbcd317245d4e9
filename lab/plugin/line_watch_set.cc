// line_watch_set.cc -- LineWatchSet.
#include "line_watch_set.h"

namespace nvlab::plugin {

namespace {
constexpr uint64_t kLineBytes = 64;
}  // namespace

LineWatchSet::LineWatchSet(const std::vector<uint64_t>& nvdimm_sizes) : sizes_(nvdimm_sizes) {
  for (uint64_t size : sizes_) {
    const uint64_t lines = (size + kLineBytes - 1) / kLineBytes;
    seen_.emplace_back((lines + 63) / 64, 0);
  }
}

bool LineWatchSet::TestAndSet(uint32_t nvdimm, uint64_t line) {
  uint64_t& word = seen_[nvdimm][line / 64];
  const uint64_t bit = uint64_t{1} << (line % 64);
  if ((word & bit) != 0) return true;
  word |= bit;
  return false;
}

void LineWatchSet::Add(uint32_t nvdimm, uint64_t offset, uint64_t size) {
  if (nvdimm >= sizes_.size() || size == 0 || offset >= sizes_[nvdimm]) return;
  uint64_t end = offset + size;
  if (end < offset || end > sizes_[nvdimm]) end = sizes_[nvdimm];
  for (uint64_t line = offset / kLineBytes; line <= (end - 1) / kLineBytes; ++line) {
    if (!TestAndSet(nvdimm, line)) lines_.push_back({nvdimm, line});
  }
}

void LineWatchSet::Clear() {
  for (const Line& l : lines_) seen_[l.nvdimm][l.line / 64] = 0;
  lines_.clear();
}

std::string LineWatchSet::Format() const {
  std::string text;
  text.reserve(lines_.size() * 12);
  for (const Line& l : lines_) {
    text += std::to_string(l.nvdimm);
    text += ' ';
    text += std::to_string(l.line);
    text += '\n';
  }
  return text;
}

}  // namespace nvlab::plugin
