// write_combining_buffer.cc -- WriteCombiningBuffer::Add, Drain.
#include "nvlab/model/write_combining_buffer.h"

#include <cstring>
#include <utility>

namespace nvlab::model {

void WriteCombiningBuffer::Add(uint64_t addr, uint64_t count, const uint8_t* data, uint64_t seq) {
  Entry entry;
  entry.line = LineBase(addr);
  uint64_t first = addr - entry.line;
  entry.bytes = MaskOf(first, count);
  entry.seq = seq;
  std::memcpy(entry.data.data() + first, data, count);
  entries_.push_back(entry);
}

std::vector<WriteCombiningBuffer::Entry> WriteCombiningBuffer::Drain() {
  std::vector<Entry> out;
  out.swap(entries_);
  return out;
}

void WriteCombiningBuffer::DrainInto(std::vector<Entry>* out) {
  out->clear();
  out->swap(entries_);
}

}  // namespace nvlab::model
