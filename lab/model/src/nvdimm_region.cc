// nvdimm_region.cc -- NvdimmRegion: the view (owned or external), the media, candidate ranges.
#include "nvlab/model/nvdimm_region.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "nvlab/model/cache_line.h"

namespace nvlab::model {
namespace {

// AdviseHugePages -- (internal) asks the kernel for transparent huge pages on the whole pages
// inside [p, p + size): a buffer filled line by line (the media, as a program's flushes reach
// it) otherwise takes a page fault per 4 KiB, which on a virtualised host costs more than the
// persistence model's work for the 64 lines in it. A hint: ignored where THP is off.
void AdviseHugePages(void* p, uint64_t size) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + size) & ~(page - 1);
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  if (end > first) (void)madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);
}

// ZeroedBuffer -- (internal) size zeroed bytes, or null; calloc maps large sizes lazily.
void* ZeroedBuffer(uint64_t count, uint64_t size) {
  void* p = std::calloc(count, size);
  if (p != nullptr) AdviseHugePages(p, count * size);
  return p;
}
uint8_t* ZeroedBuffer(uint64_t size) {
  return static_cast<uint8_t*>(ZeroedBuffer(size, 1));
}

}  // namespace

NvdimmRegion::NvdimmRegion(uint64_t base, uint64_t size, uint8_t* external_view,
                           MediaStart media_start)
    : base_(base),
      size_(size),
      view_(external_view),
      media_(ZeroedBuffer(size)),
      line_seqs_(static_cast<uint64_t*>(ZeroedBuffer(size / kLineSize, sizeof(uint64_t)))) {
  if (view_ == nullptr) {
    owned_view_.reset(ZeroedBuffer(size));
    view_ = owned_view_.get();
  } else if (media_ && media_start == MediaStart::kCopyOfView) {
    std::memcpy(media_.get(), view_, size);
  }
}

ByteRanges NvdimmRegion::CandidateLineRanges() const {
  if (!candidate_ranges_) return {{0, size_}};
  ByteRanges hint = candidate_ranges_();
  std::sort(hint.begin(), hint.end());
  ByteRanges lines;
  for (auto [first, end] : hint) {
    first = LineBase(std::min(first, size_));
    end = std::min(size_, LineBase(std::min(end, size_) + kLineSize - 1));
    if (first >= end) continue;
    if (!lines.empty() && first <= lines.back().second) {
      lines.back().second = std::max(lines.back().second, end);
    } else {
      lines.emplace_back(first, end);
    }
  }
  return lines;
}

}  // namespace nvlab::model
