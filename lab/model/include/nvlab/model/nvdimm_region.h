// File: nvlab/model/nvdimm_region.h
//
// NvdimmRegion is one emulated NVDIMM as the model sees it: a guest-physical range
// [base, base + size) with two byte images of the same size:
//
//   view   what the CPUs see (caches included). Either memory the region owns (zero-filled;
//          stores reported to the model write into it), or an external region the caller owns
//          and keeps alive, e.g. the TCG plugin's own MAP_SHARED mapping of the NVDIMM's backing
//          file, where QEMU's stores appear with no callback at all.
//   media  what the NVDIMM holds: a copy of the view taken when the region is made, then
//          updated only by write-backs the persistence model allows.
//
// Contract: base and size are multiples of 64, size > 0 (PersistenceDomain::AddNvdimm checks).
//
// Thread-safety: not safe for concurrent use.

#ifndef NVLAB_MODEL_NVDIMM_REGION_H_
#define NVLAB_MODEL_NVDIMM_REGION_H_

#include <cstdint>
#include <memory>
#include <vector>

namespace nvlab::model {

class NvdimmRegion {
 public:
  // external_view may be null: the region then owns a zeroed view.
  NvdimmRegion(uint64_t base, uint64_t size, uint8_t* external_view);

  NvdimmRegion(const NvdimmRegion&) = delete;
  NvdimmRegion& operator=(const NvdimmRegion&) = delete;
  NvdimmRegion(NvdimmRegion&&) = default;
  NvdimmRegion& operator=(NvdimmRegion&&) = default;

  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }
  uint64_t end() const { return base_ + size_; }
  bool Contains(uint64_t gpa) const { return gpa >= base_ && gpa - base_ < size_; }

  uint8_t* view() { return view_; }
  const uint8_t* view() const { return view_; }
  uint8_t* media() { return media_.data(); }
  const uint8_t* media() const { return media_.data(); }

 private:
  uint64_t base_;
  uint64_t size_;
  std::unique_ptr<uint8_t[]> owned_view_;
  uint8_t* view_;
  std::vector<uint8_t> media_;
};

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_NVDIMM_REGION_H_
