// File: nvlab/explore/state_iterator.h
//
// StateIterator enumerates every state of a CrashStateSpace exhaustively, as a mixed-radix
// counter over the undetermined lines: the first line is the most significant digit, the last
// the fastest; the first state is all candidates 0 (nothing undetermined landed). The n-th state
// (from 0) is StateAt(space, n).
//
// Life cycle: construct on a space that outlives it, call Next until it returns false.
// Thread-safety: an object is not safe for concurrent use.

#ifndef NVLAB_EXPLORE_STATE_ITERATOR_H_
#define NVLAB_EXPLORE_STATE_ITERATOR_H_

#include <cstdint>

#include "nvlab/explore/crash_state_space.h"

namespace nvlab::explore {

class StateIterator {
 public:
  explicit StateIterator(const CrashStateSpace& space) : space_(space) {}

  // Next writes the next state into *choices; false when every state was given.
  bool Next(StateChoices* choices);

 private:
  const CrashStateSpace& space_;
  StateChoices current_;
  bool started_ = false;
  bool done_ = false;
};

// StateAt returns the state with mixed-radix number `index` (< the space's count, which must
// not be saturated).
StateChoices StateAt(const CrashStateSpace& space, uint64_t index);

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_STATE_ITERATOR_H_
