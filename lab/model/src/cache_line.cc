// cache_line.cc -- LineStateName, ModelStatusName.
#include "nvlab/model/cache_line.h"

#include "nvlab/model/model_status.h"

namespace nvlab::model {

const char* LineStateName(LineState state) {
  switch (state) {
    case LineState::kClean:
      return "clean";
    case LineState::kDirty:
      return "dirty";
    case LineState::kFlushPending:
      return "flush-pending";
    case LineState::kWcBuffer:
      return "wc-buffer";
  }
  return "unknown";
}

const char* ModelStatusName(ModelStatus status) {
  switch (status) {
    case ModelStatus::kOk:
      return "ok";
    case ModelStatus::kInvalidArgument:
      return "invalid-argument";
    case ModelStatus::kOverlap:
      return "overlap";
    case ModelStatus::kOutOfMemory:
      return "out-of-memory";
  }
  return "unknown";
}

}  // namespace nvlab::model
