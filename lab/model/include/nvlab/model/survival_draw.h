// File: nvlab/model/survival_draw.h
//
// SurvivalDraw decides, for the random cut policy, whether one undetermined write-back lands.
// It is a small self-contained generator (SplitMix64), so that a seed gives the same sequence
// on every host, compiler and standard library (std:: distributions do not promise that).
//
// Contract: Lands() with p == 0 is always false and with p == 1 always true; otherwise it is
// true with probability p. Draws are consumed in the order the caller asks.
//
// Thread-safety: an object is not safe for concurrent use.

#ifndef NVLAB_MODEL_SURVIVAL_DRAW_H_
#define NVLAB_MODEL_SURVIVAL_DRAW_H_

#include <cstdint>

namespace nvlab::model {

class SurvivalDraw {
 public:
  SurvivalDraw(uint64_t seed, double p) : state_(seed), p_(p) {}

  // Lands draws once and says whether the write-back reached the media.
  bool Lands();

 private:
  uint64_t Next();

  uint64_t state_;
  double p_;
};

}  // namespace nvlab::model

#endif  // NVLAB_MODEL_SURVIVAL_DRAW_H_
