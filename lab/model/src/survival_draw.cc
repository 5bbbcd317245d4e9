// survival_draw.cc -- SurvivalDraw: SplitMix64 turned into Bernoulli(p) draws.
#include "nvlab/model/survival_draw.h"

namespace nvlab::model {

uint64_t SurvivalDraw::Next() {
  state_ += 0x9E3779B97F4A7C15ULL;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

bool SurvivalDraw::Lands() {
  // 53 random bits as a double in [0, 1): strictly below 1, so p == 1 always lands and p == 0
  // never does. The draw is consumed either way, keeping later draws independent of p.
  double u = static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0);
  return u < p_;
}

}  // namespace nvlab::model
