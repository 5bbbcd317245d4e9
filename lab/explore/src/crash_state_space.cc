// crash_state_space.cc -- CrashStateSpace: counting states, finding lines, checking choices.
#include "nvlab/explore/crash_state_space.h"

#include <algorithm>

namespace nvlab::explore {

StateCount CrashStateSpace::Count() const {
  StateCount count(1);
  for (const UndeterminedLine& line : undetermined)
    count = count * StateCount(line.candidates.size());
  return count;
}

int64_t CrashStateSpace::UndeterminedIndex(uint64_t gpa) const {
  const uint64_t line = gpa & ~(kLineBytes - 1);
  auto it = std::lower_bound(undetermined.begin(), undetermined.end(), line,
                             [](const UndeterminedLine& l, uint64_t g) { return l.gpa < g; });
  if (it == undetermined.end() || it->gpa != line) return -1;
  return it - undetermined.begin();
}

bool CrashStateSpace::ValidChoices(const StateChoices& choices) const {
  if (choices.size() != undetermined.size()) return false;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] >= undetermined[i].candidates.size()) return false;
  }
  return true;
}

}  // namespace nvlab::explore
