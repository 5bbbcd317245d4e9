// nvdimm_region.cc -- NvdimmRegion: the view (owned or external) and the media copy.
#include "nvlab/model/nvdimm_region.h"

namespace nvlab::model {

NvdimmRegion::NvdimmRegion(uint64_t base, uint64_t size, uint8_t* external_view)
    : base_(base), size_(size), view_(external_view) {
  if (view_ == nullptr) {
    owned_view_ = std::make_unique<uint8_t[]>(size);  // Value-initialised: zeroes.
    view_ = owned_view_.get();
  }
  media_.assign(view_, view_ + size);
}

}  // namespace nvlab::model
