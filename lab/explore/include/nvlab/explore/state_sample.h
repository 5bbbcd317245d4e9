// File: nvlab/explore/state_sample.h
//
// SelectStates picks the states of a crash point to check within a budget: all of them, in
// StateIterator's order, when they number at most `limit`; otherwise a seeded sample of `limit`
// distinct states (uniform without replacement when the count fits in 64 bits; random choice
// vectors, duplicates redrawn, when it saturates), in ascending mixed-radix order. not_tried
// always says how many states were left out (saturated when the count is).
//
// Thread-safety: a pure function.

#ifndef NVLAB_EXPLORE_STATE_SAMPLE_H_
#define NVLAB_EXPLORE_STATE_SAMPLE_H_

#include <cstdint>
#include <vector>

#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/state_count.h"

namespace nvlab::explore {

struct StateSelection {
  std::vector<StateChoices> states;
  StateCount not_tried;
  bool sampled = false;  // True when not every state was selected.
};

StateSelection SelectStates(const CrashStateSpace& space, uint64_t limit, uint64_t seed);

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_STATE_SAMPLE_H_
