// nvdimm_region.cc -- NvdimmRegion: the view (owned or external), the media, candidate ranges.
#include "nvlab/model/nvdimm_region.h"

#include <algorithm>
#include <cstring>

#include "nvlab/model/cache_line.h"

namespace nvlab::model {
namespace {

// ZeroedBuffer -- (internal) size zeroed bytes, or null; calloc maps large sizes lazily.
uint8_t* ZeroedBuffer(uint64_t size) {
  return static_cast<uint8_t*>(std::calloc(size, 1));
}

}  // namespace

NvdimmRegion::NvdimmRegion(uint64_t base, uint64_t size, uint8_t* external_view,
                           MediaStart media_start)
    : base_(base),
      size_(size),
      view_(external_view),
      media_(ZeroedBuffer(size)),
      line_seqs_(static_cast<uint64_t*>(std::calloc(size / kLineSize, sizeof(uint64_t)))) {
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
