// File: nvlab/model/pending_write_backs.h
//
// PendingWriteBacks is one CPU's set of flush-pending lines: each CLWB or CLFLUSHOPT it issued
// that no fence of the same CPU has ordered yet, with the snapshot of the line taken when the
// flush executed (a later store to the line does not change what this write-back carries:
// litmus "store A=1; CLWB A; store A=2; SFENCE" leaves A=1 on the media).
//
// Thread-safety: not safe for concurrent use; each CPU has its own.

#ifndef NVLAB_MODEL_PENDING_WRITE_BACKS_H_
#define NVLAB_MODEL_PENDING_WRITE_BACKS_H_

#include <array>
#include <cstdint>
#include <vector>

#include "nvlab/model/cache_line.h"

namespace nvlab::model {

class PendingWriteBacks {
 public:
  struct WriteBack {
    uint64_t line = 0;   // Guest-physical address of the line.
    uint64_t seq = 0;    // The domain's event sequence number when the flush executed.
    ByteMask valid = 0;  // Bytes that were in the cache (not those waiting in a WC buffer).
    std::array<uint8_t, kLineSize> snapshot{};
  };

  void Add(const WriteBack& write_back) { write_backs_.push_back(write_back); }

  // Drain returns every pending write-back, oldest first, and empties the set.
  std::vector<WriteBack> Drain() {
    std::vector<WriteBack> out;
    out.swap(write_backs_);
    return out;
  }
  // DrainInto is Drain into *out (its old content dropped); the set keeps out's storage, so
  // that a caller draining at every fence allocates nothing once both have grown.
  void DrainInto(std::vector<WriteBack>* out) {
    out->clear();
    out->swap(write_backs_);
  }

  const std::vector<WriteBack>& entries() const { return write_backs_; }
  bool empty() const { return write_backs_.empty(); }

 private:
  std::vector<WriteBack> write_backs_;
};

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_PENDING_WRITE_BACKS_H_
