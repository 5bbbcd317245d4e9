// File: nvlab/model/cut_policy.h
//
// What a power cut does to what is not guaranteed to be durable (docs/design/persistence-model.md):
//
//   Platform  where the persistence domain ends.
//     adr   (QEMU nvdimm-persistence=mem-ctrl, the default) caches and write-combining buffers
//           are lost; the media holds exactly what flushes and fences put there.
//     eadr  (nvdimm-persistence=cpu) caches are flushed at the cut: every store that reached a
//           cache survives; non-temporal stores still wait in write-combining buffers.
//
//   CutPolicy  the fate of each undetermined write-back (a dirty line on adr, a flush-pending
//              snapshot, a write-combining entry):
//     lose            none lands (deterministic, the strictest; the default).
//     keep            all land: the image is what the CPUs saw (QEMU's own behaviour).
//     random:SEED[:P] each lands independently with probability P (default 0.5); the same
//                     SEED and the same event history give the same image.
//
// Thread-safety: plain values and pure functions.

#ifndef NVLAB_MODEL_CUT_POLICY_H_
#define NVLAB_MODEL_CUT_POLICY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "nvlab/model/model_status.h"

namespace nvlab::model {

enum class Platform { kAdr, kEadr };

// ParsePlatform accepts "adr" or "eadr"; anything else is kInvalidArgument and *out is unchanged.
ModelStatus ParsePlatform(std::string_view text, Platform* out);

// PlatformName returns "adr" or "eadr".
const char* PlatformName(Platform platform);

struct CutPolicy {
  enum class Kind { kLose, kKeep, kRandom };

  Kind kind = Kind::kLose;
  uint64_t seed = 0;  // kRandom only.
  double p = 0.5;     // kRandom only: probability that one undetermined write-back lands.

  static CutPolicy Lose() { return {}; }
  static CutPolicy Keep() { return {Kind::kKeep, 0, 0.5}; }
  static CutPolicy Random(uint64_t seed, double p) { return {Kind::kRandom, seed, p}; }
};

// ParseCutPolicy accepts "lose", "keep", "random:SEED" or "random:SEED:P" (SEED a decimal or
// 0x-prefixed unsigned 64-bit number, P a decimal in [0, 1]). On failure it returns
// kInvalidArgument, leaves *out unchanged and puts a sentence naming the problem in *error.
ModelStatus ParseCutPolicy(std::string_view text, CutPolicy* out, std::string* error);

// CutPolicyKindName returns "lose", "keep" or "random".
const char* CutPolicyKindName(CutPolicy::Kind kind);

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_CUT_POLICY_H_
