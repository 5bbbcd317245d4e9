// File: nvlab/model/write_combining_buffer.h
//
// WriteCombiningBuffer is one CPU's queue of non-temporal stores (MOVNTI, MOVNT*, MOVDIR64B)
// to NVDIMM lines that no fence of that CPU has ordered yet. An NT store bypasses the cache: it
// does not make its line dirty, it reaches the media only when the CPU fences (or, under the
// random cut policy, by luck). Unlike a real WC buffer this one never evicts on its own: that
// is exactly the uncertainty the cut policy models.
//
// Entries never cross a line: PersistenceDomain splits stores at line boundaries.
//
// Thread-safety: not safe for concurrent use; each CPU has its own.

#ifndef NVLAB_MODEL_WRITE_COMBINING_BUFFER_H_
#define NVLAB_MODEL_WRITE_COMBINING_BUFFER_H_

#include <array>
#include <cstdint>
#include <vector>

#include "nvlab/model/cache_line.h"

namespace nvlab::model {

class WriteCombiningBuffer {
 public:
  struct Entry {
    uint64_t line = 0;   // Guest-physical address of the line.
    ByteMask bytes = 0;  // Which bytes of the line the store wrote.
    uint64_t seq = 0;    // The domain's event sequence number (orders against flushes).
    std::array<uint8_t, kLineSize> data{};  // The line's bytes; only those in `bytes` count.
  };

  // Add queues a store of `count` bytes at `addr` (within one line) holding `data`.
  void Add(uint64_t addr, uint64_t count, const uint8_t* data, uint64_t seq);

  // Drain returns every entry, oldest first, and empties the buffer.
  std::vector<Entry> Drain();
  // DrainInto is Drain into *out (its old content dropped); the buffer keeps out's storage.
  void DrainInto(std::vector<Entry>* out);

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<Entry> entries_;
};

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_WRITE_COMBINING_BUFFER_H_
