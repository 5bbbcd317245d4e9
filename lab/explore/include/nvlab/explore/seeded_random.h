// File: nvlab/explore/seeded_random.h
//
// SeededRandom is the exploration's only source of randomness (crash-point samples, state
// samples): SplitMix64, the generator of the model's random cut policy, so that a seed gives
// the same sequence on every host, compiler and standard library.
//
// Thread-safety: an object is not safe for concurrent use.

#ifndef NVLAB_EXPLORE_SEEDED_RANDOM_H_
#define NVLAB_EXPLORE_SEEDED_RANDOM_H_

#include <cstdint>

namespace nvlab::explore {

class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Below returns a uniform number in [0, bound) (bound > 0), by rejection: no modulo bias.
  uint64_t Below(uint64_t bound) {
    const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % bound);  // A multiple of bound.
    uint64_t value = Next();
    while (value >= limit) value = Next();
    return value % bound;
  }

 private:
  uint64_t state_;
};

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_SEEDED_RANDOM_H_
