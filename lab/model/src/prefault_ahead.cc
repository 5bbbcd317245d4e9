// prefault_ahead.cc -- PrefaultAhead: the sequential-writer test and the worker thread.
#include "nvlab/model/prefault_ahead.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

namespace nvlab::model {

PrefaultAhead::~PrefaultAhead() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

size_t PrefaultAhead::Track(void* data, uint64_t size) {
  Buffer b;
  b.start = reinterpret_cast<uintptr_t>(data);
  b.end = b.start + size;
  const uint64_t pieces = size == 0 ? 0 : (b.end - 1) / kPieceBytes - b.start / kPieceBytes + 1;
  b.marks.assign(pieces, 0);
  buffers_.push_back(std::move(b));
  return buffers_.size() - 1;
}

void PrefaultAhead::NoteNewPiece(Buffer& b, uint64_t piece) {
  constexpr uint8_t kWritten = 1;
  constexpr uint8_t kRequested = 2;
  b.last_piece = piece;
  const uint64_t first = b.start / kPieceBytes;
  if (piece < first || piece - first >= b.marks.size()) return;  // Outside: not ours.
  const uint64_t i = piece - first;
  b.marks[i] |= kWritten;
  // A sequential writer: it wrote the piece before this one. Then the next one is its next.
  const bool sequential = i > 0 && (b.marks[i - 1] & kWritten) != 0;
  if (!sequential || i + 1 >= b.marks.size() || b.marks[i + 1] != 0 ||
      unsupported_.load(std::memory_order_relaxed)) {
    return;
  }
  b.marks[i + 1] |= kRequested;
  // Whole pages only: the buffer's first and last pages may hold bytes of other objects, which
  // population would not change either, but need not be ours to map.
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  Work work;
  work.first = std::max((piece + 1) * kPieceBytes, (b.start + page - 1) & ~(page - 1));
  work.end = std::min((piece + 2) * kPieceBytes, b.end & ~(page - 1));
  if (work.first < work.end) Request(work);
}

void PrefaultAhead::Request(Work work) {
  requested_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(work);
    if (!worker_.joinable()) {
      // The worker keeps every signal blocked: the process's signals are for its own threads
      // (QEMU's main loop, its vCPU kicks), and a thread made here inherits this one's mask.
      sigset_t all;
      sigset_t old;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old);
      worker_ = std::thread([this] { Run(); });
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
  }
  changed_.notify_all();  // The worker, not a WaitIdle, must wake.
}

void PrefaultAhead::WaitIdle() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return (queue_.empty() && !busy_) || !worker_.joinable(); });
}

void PrefaultAhead::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const Work work = queue_.front();
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    void* first = reinterpret_cast<void*>(work.first);
    if (madvise(first, work.end - work.first, MADV_POPULATE_WRITE) == 0) {
      populated_.fetch_add(1, std::memory_order_relaxed);
    } else if (errno == EINVAL) {
      unsupported_.store(true, std::memory_order_relaxed);
    }
    // Other errors (ENOMEM: no memory now) leave the piece to the writer's own fault.
    lock.lock();
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace nvlab::model
