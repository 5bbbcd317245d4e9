// File: nvlab/model/prefault_ahead.h
//
// PrefaultAhead is readahead for memory the model writes: when a writer moves into a new
// 2 MiB piece of a lazily mapped buffer right after writing the piece before it, a thread of
// PrefaultAhead's own maps in the next piece (madvise MADV_POPULATE_WRITE), so that the writer
// finds it there.
//
// Why: a region's media and its per-line sequence numbers are allocated untouched
// (nvdimm_region.h), so the first write to each piece takes a page fault in which the kernel
// zeroes the piece. On a virtualised host that is about 2 ms per 2 MiB huge page, paid on QEMU's
// one TCG thread in the middle of the guest's fence. A program that streams a log through the
// NVDIMM pays it every 32768 lines it persists: 0.15 s of a million-record workload
// (BENCHMARKS.md). A second core does it ahead instead.
//
// Safe alongside the writer: population changes no byte. The kernel maps zeroed pages where
// none were and leaves mapped ones alone, so it races with nothing the writer does.
// Costs no memory a random writer does not use: only a sequential writer is followed (the piece
// before must have been written), one piece ahead.
//
// The worker starts with the first piece it is given, with every signal blocked (QEMU's threads
// keep theirs), and the destructor stops and joins it. A kernel without MADV_POPULATE_WRITE
// (before Linux 5.14) answers EINVAL: the worker then stops asking, and writers take their own
// faults as before.
//
// Thread-safety: Track and Note from one thread (the writer); the counters from any.

#ifndef NVLAB_MODEL_PREFAULT_AHEAD_H_
#define NVLAB_MODEL_PREFAULT_AHEAD_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace nvlab::model {

class PrefaultAhead {
 public:
  // Pieces are 2 MiB aligned in the address space: an x86 transparent huge page each.
  static constexpr uint64_t kPieceBytes = uint64_t{2} << 20;

  PrefaultAhead() = default;
  ~PrefaultAhead();

  PrefaultAhead(const PrefaultAhead&) = delete;
  PrefaultAhead& operator=(const PrefaultAhead&) = delete;

  // Track adds the buffer [data, data + size) and returns its index for Note.
  size_t Track(void* data, uint64_t size);

  // Note: byte `offset` of tracked buffer `index` is about to be written. Writes within the
  // piece noted last cost one comparison.
  void Note(size_t index, uint64_t offset) {
    Buffer& b = buffers_[index];
    const uint64_t piece = (b.start + offset) / kPieceBytes;
    if (piece != b.last_piece) NoteNewPiece(b, piece);
  }

  // requested: pieces handed to the worker so far; populated: pieces it mapped in.
  uint64_t requested() const { return requested_.load(std::memory_order_relaxed); }
  uint64_t populated() const { return populated_.load(std::memory_order_relaxed); }

  // WaitIdle returns once the worker has handled every piece handed to it (for tests).
  void WaitIdle();

 private:
  struct Buffer {
    uintptr_t start = 0;  // Address of the buffer's first byte.
    uintptr_t end = 0;
    uint64_t last_piece = ~uint64_t{0};
    // Per piece (address / kPieceBytes - first piece): bit 0 written, bit 1 handed to the worker.
    std::vector<uint8_t> marks;
  };
  struct Work {
    uintptr_t first = 0;
    uintptr_t end = 0;
  };

  void NoteNewPiece(Buffer& b, uint64_t piece);
  void Request(Work work);
  void Run();

  std::vector<Buffer> buffers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Work> queue_;                // Guarded by mutex_.
  bool busy_ = false;                     // Guarded by mutex_: the worker is populating a piece.
  bool stop_ = false;                     // Guarded by mutex_.
  std::atomic<bool> unsupported_{false};  // Set by the worker on EINVAL.
  std::thread worker_;
  std::atomic<uint64_t> requested_{0};
  std::atomic<uint64_t> populated_{0};
};

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_PREFAULT_AHEAD_H_
