// File: nvlab/model/model_status.h
//
// ModelStatus is the result code of the model's fallible calls. The model never throws: a call
// that can fail returns a ModelStatus and, where a sentence helps, fills a caller's std::string.
// Events that name addresses outside every NVDIMM are not failures (a guest may do anything);
// the model ignores or clips them and counts them (DomainCounters::ignored_events).
//
// Thread-safety: plain values.

#ifndef NVLAB_MODEL_MODEL_STATUS_H_
#define NVLAB_MODEL_MODEL_STATUS_H_

namespace nvlab::model {

enum class ModelStatus {
  kOk = 0,
  kInvalidArgument,  // A malformed value: a policy string, a zero size, an unaligned base.
  kOverlap,          // A new NVDIMM overlaps one already added.
  kOutOfMemory,      // The media (or owned view) image could not be allocated.
};

// ModelStatusName returns a stable name ("ok", "invalid-argument", "overlap", "out-of-memory").
const char* ModelStatusName(ModelStatus status);

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_MODEL_STATUS_H_
