// File: nvlab/model/nvdimm_region.h
//
// NvdimmRegion is one emulated NVDIMM as the model sees it: a guest-physical range
// [base, base + size) with two byte images of the same size:
//
//   view   what the CPUs see (caches included). Either memory the region owns (zero-filled;
//          stores reported to the model write into it), or an external region the caller owns
//          and keeps alive, e.g. the TCG plugin's own MAP_SHARED mapping of the NVDIMM's backing
//          file, where QEMU's stores appear with no callback at all.
//   media  what the NVDIMM holds: a copy of the view taken when the region is made (or filled
//          by the caller, see MediaStart), then updated only by write-backs the persistence
//          model allows.
// Both owned images are allocated zeroed without being touched (calloc), so an NVDIMM of
// 256 MiB that the guest barely uses costs little memory; they ask for transparent huge pages
// (a page fault per 4 KiB filled cost more than the model's work for its 64 lines), so what is
// touched is counted in 2 MiB pieces where THP is enabled. So is the media's per-line write-back
// sequence number (line_seq; 8 bytes per 64-byte line), which PersistenceDomain keeps: a flat
// array costs a fence no hashing and no allocation, where a map of lines did both.
//
// CandidateRanges: a caller that knows where view and media can differ (the plugin: the data
// extents of a sparse backing file; every hole reads as zeroes in both) can say so, and the
// whole-region scans (WBINVD, the power cut) look only there. Default: the whole region.
//
// Contract: base and size are multiples of 64, size > 0 (PersistenceDomain::AddNvdimm checks).
//
// Thread-safety: not safe for concurrent use.

#ifndef NVLAB_MODEL_NVDIMM_REGION_H_
#define NVLAB_MODEL_NVDIMM_REGION_H_

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "nvlab/model/cache_line.h"

namespace nvlab::model {

// ByteRanges are [first, end) offsets within a region.
using ByteRanges = std::vector<std::pair<uint64_t, uint64_t>>;
using CandidateRanges = std::function<ByteRanges()>;

enum class MediaStart {
  kCopyOfView,  // The media starts as a copy of the view (reads all of it).
  kZeroes,      // The media starts zeroed; the caller writes the initial content into media().
};

class NvdimmRegion {
 public:
  // external_view may be null: the region then owns a zeroed view.
  NvdimmRegion(uint64_t base, uint64_t size, uint8_t* external_view,
               MediaStart media_start = MediaStart::kCopyOfView);

  NvdimmRegion(const NvdimmRegion&) = delete;
  NvdimmRegion& operator=(const NvdimmRegion&) = delete;
  NvdimmRegion(NvdimmRegion&&) = default;
  NvdimmRegion& operator=(NvdimmRegion&&) = default;

  // ok is false when memory for the images could not be had (then nothing else may be used).
  bool ok() const { return media_ != nullptr && view_ != nullptr && line_seqs_ != nullptr; }

  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }
  uint64_t end() const { return base_ + size_; }
  bool Contains(uint64_t gpa) const { return gpa >= base_ && gpa - base_ < size_; }

  uint8_t* view() { return view_; }
  const uint8_t* view() const { return view_; }
  uint8_t* media() { return media_.get(); }
  const uint8_t* media() const { return media_.get(); }
  // line_seq: the slot of the line holding gpa (inside the region) in the per-line array,
  // zero until PersistenceDomain writes it.
  uint64_t& line_seq(uint64_t gpa) { return line_seqs_.get()[(gpa - base_) / kLineSize]; }
  uint64_t line_seq(uint64_t gpa) const { return line_seqs_.get()[(gpa - base_) / kLineSize]; }

  void set_candidate_ranges(CandidateRanges ranges) { candidate_ranges_ = std::move(ranges); }
  // CandidateLineRanges returns where view and media may differ, widened to whole lines and
  // clipped to the region (the whole region when no hint was set).
  ByteRanges CandidateLineRanges() const;

 private:
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

  uint64_t base_;
  uint64_t size_;
  Buffer owned_view_;
  uint8_t* view_;
  Buffer media_;
  std::unique_ptr<uint64_t, FreeDeleter> line_seqs_;
  CandidateRanges candidate_ranges_;
};

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_NVDIMM_REGION_H_
