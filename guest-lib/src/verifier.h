// verifier.h -- per-token tracking of written-but-not-durable byte ranges (nvlab extension).
//
// A token created while the verifier is enabled owns a Verifier (token_table.cc reuses one per
// slot). The Rtl functions feed it: Write/Fill without a persisting flag -> MarkDirty; a flush
// with NO_DRAIN -> MarkFlushedNotDrained (pending on the calling thread, since SFENCE orders
// only its own CPU's flushes); a drained flush, a persisting write, or Drain -> durable.
// RtlFreeNonVolatileToken calls Report, which merges what is left and emits one finding per
// range. Offsets are kept relative to the token's base. Thread-safety: a mutex per Verifier; the
// verifier is a debugging mode and may lock and allocate (docs/api/verifier.md).
#ifndef NVRTL_SRC_VERIFIER_H_
#define NVRTL_SRC_VERIFIER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "nvrtl/nvrtl.h"

namespace nvrtl {

// VerifierEnabledForNewTokens -- NVRTL_VERIFIER=1 at load, or NvEnableVerifier.
bool VerifierEnabledForNewTokens() noexcept;

// Finding -- one merged range left unflushed.
struct Finding {
  size_t offset;
  size_t length;
  void* call_site;
};

class Verifier {
 public:
  Verifier() = default;
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // Reset -- forgets everything (a new token in this slot).
  void Reset();
  // MarkDirty -- [offset, offset+length) written and not durable; call_site for the report.
  void MarkDirty(size_t offset, size_t length, void* call_site) noexcept;
  // MarkDurable -- the range was written durably (persisting flags).
  void MarkDurable(size_t offset, size_t length) noexcept;
  // MarkFlushedNotDrained -- the dirty part of the range waits for this thread's drain.
  void MarkFlushedNotDrained(size_t offset, size_t length) noexcept;
  // MarkFlushedAndDrained -- the range is durable, and so is this thread's pending work.
  void MarkFlushedAndDrained(size_t offset, size_t length) noexcept;
  // MarkDrained -- this thread's pending ranges are durable.
  void MarkDrained() noexcept;
  // MarkStored -- what Write or Fill did to [offset, offset+length): with Flags 0 it is dirty;
  // flushed without a drain it waits for this thread's drain; flushed and drained it is durable.
  void MarkStored(size_t offset, size_t length, bool flushed, bool drained,
                  void* call_site) noexcept;
  // Findings -- what is not durable, merged and sorted by offset.
  std::vector<Finding> Findings() const;

 private:
  struct Span {
    size_t end;
    void* call_site;
  };
  struct Pending {
    uint64_t thread;
    size_t start;
    size_t end;
    void* call_site;
  };
  // Removes [start, end) from dirty_, appending what was removed to *removed (if not null).
  void SubtractDirty(size_t start, size_t end, std::vector<Pending>* removed, uint64_t thread);
  void SubtractPending(size_t start, size_t end);

  mutable std::mutex mutex_;
  std::map<size_t, Span> dirty_;  // start -> span, disjoint
  std::vector<Pending> pending_;  // flushed with NO_DRAIN, per thread
};

// ReportFindings -- emits each finding to stderr, the report file and the callback.
void ReportFindings(void* token, const std::vector<Finding>& findings);

}  // namespace nvrtl

#endif  // NVRTL_SRC_VERIFIER_H_
