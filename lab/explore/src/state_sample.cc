// state_sample.cc -- SelectStates: every state, or a seeded sample of them.
#include "nvlab/explore/state_sample.h"

#include <set>

#include "nvlab/explore/seeded_random.h"
#include "nvlab/explore/state_iterator.h"

namespace nvlab::explore {

StateSelection SelectStates(const CrashStateSpace& space, uint64_t limit, uint64_t seed) {
  StateSelection selection;
  const StateCount count = space.Count();
  if (!count.saturated() && count.value() <= limit) {
    StateIterator it(space);
    StateChoices choices;
    while (it.Next(&choices)) selection.states.push_back(choices);
    return selection;
  }
  selection.sampled = true;
  selection.not_tried = count - StateCount(limit);
  SeededRandom random(seed);
  if (!count.saturated()) {
    // Floyd's algorithm: `limit` distinct numbers below count, each equally likely.
    std::set<uint64_t> picked;
    for (uint64_t j = count.value() - limit; j < count.value(); ++j) {
      const uint64_t t = random.Below(j + 1);
      if (!picked.insert(t).second) picked.insert(j);
    }
    for (uint64_t index : picked) selection.states.push_back(StateAt(space, index));
    return selection;
  }
  // More than 2^64 states: draw whole choice vectors; a repeat (next to impossible) is redrawn.
  std::set<StateChoices> picked;
  while (picked.size() < limit) {
    StateChoices choices(space.undetermined.size());
    for (size_t i = 0; i < choices.size(); ++i) {
      choices[i] = static_cast<uint32_t>(random.Below(space.undetermined[i].candidates.size()));
    }
    picked.insert(std::move(choices));
  }
  selection.states.assign(picked.begin(), picked.end());
  return selection;
}

}  // namespace nvlab::explore
