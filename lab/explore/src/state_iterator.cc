// state_iterator.cc -- StateIterator and StateAt: mixed-radix enumeration of crash states.
#include "nvlab/explore/state_iterator.h"

namespace nvlab::explore {

bool StateIterator::Next(StateChoices* choices) {
  if (done_) return false;
  if (!started_) {
    started_ = true;
    current_.assign(space_.undetermined.size(), 0);
    *choices = current_;
    return true;
  }
  for (size_t i = current_.size(); i-- > 0;) {
    if (++current_[i] < space_.undetermined[i].candidates.size()) {
      *choices = current_;
      return true;
    }
    current_[i] = 0;
  }
  done_ = true;  // Every digit wrapped: all states were given.
  return false;
}

StateChoices StateAt(const CrashStateSpace& space, uint64_t index) {
  StateChoices choices(space.undetermined.size(), 0);
  for (size_t i = choices.size(); i-- > 0;) {
    const uint64_t radix = space.undetermined[i].candidates.size();
    choices[i] = static_cast<uint32_t>(index % radix);
    index /= radix;
  }
  return choices;
}

}  // namespace nvlab::explore
