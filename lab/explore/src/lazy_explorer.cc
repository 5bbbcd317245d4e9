// lazy_explorer.cc -- LazyExplorer: pruned (read-set driven) and exhaustive exploration.
#include "nvlab/explore/lazy_explorer.h"

#include <algorithm>
#include <utility>

#include "nvlab/explore/state_sample.h"

namespace nvlab::explore {

LazyExplorer::LazyExplorer(ExploreOptions options, CheckFunction check)
    : options_(options), check_(std::move(check)) {}

Status LazyExplorer::Visit(const CrashStateSpace& space, const StateChoices& choices,
                           CrashPointResult* out, const CheckResult** result, size_t* image) {
  CrashImage crash_image = MakeCrashImage(space, choices);
  ++out->visited;
  if (const int64_t found = images_.Find(crash_image); found >= 0) {
    *image = static_cast<size_t>(found);
  } else {
    CheckResult checked;
    NVLAB_RETURN_IF_ERROR(check_(crash_image, &checked));
    ++out->distinct;
    *image = images_.Insert(std::move(crash_image)).first;
    results_.push_back(std::move(checked));
  }
  *result = &results_[*image];
  return Status::Ok();
}

void LazyExplorer::NoteFailure(ExploreFailure failure, CrashPointResult* out) const {
  ++out->failed_visits;
  out->failed_states += failure.represented;
  if (out->failures.size() < options_.max_failures_listed)
    out->failures.push_back(std::move(failure));
}

Status LazyExplorer::ExploreExhaustive(const CrashStateSpace& space, CrashPointResult* out) {
  const StateSelection selection = SelectStates(space, options_.max_checks, options_.seed);
  out->not_tried = selection.not_tried;
  std::vector<size_t> all(space.undetermined.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  for (const StateChoices& choices : selection.states) {
    const CheckResult* result = nullptr;
    size_t image = 0;
    NVLAB_RETURN_IF_ERROR(Visit(space, choices, out, &result, &image));
    if (!result->passed) NoteFailure({choices, all, StateCount(1), image}, out);
  }
  return Status::Ok();
}

// ExplorePruned: a node of the search fixes some lines' choices (-1: free) and stands for every
// state that agrees with it there. Its run uses candidate 0 on the free lines; the free lines
// the check read become the branches, and the other free lines are covered by the run.
Status LazyExplorer::ExplorePruned(const CrashStateSpace& space, CrashPointResult* out) {
  const size_t lines = space.undetermined.size();
  auto states_of = [&](const std::vector<int32_t>& fixed) {
    StateCount count(1);
    for (size_t i = 0; i < lines; ++i) {
      if (fixed[i] < 0) count = count * StateCount(space.undetermined[i].candidates.size());
    }
    return count;
  };
  std::vector<std::vector<int32_t>> stack{std::vector<int32_t>(lines, -1)};
  while (!stack.empty()) {
    if (out->visited >= options_.max_checks) {
      for (const auto& fixed : stack) out->not_tried += states_of(fixed);
      break;
    }
    std::vector<int32_t> fixed = std::move(stack.back());
    stack.pop_back();
    StateChoices choices(lines);
    for (size_t i = 0; i < lines; ++i)
      choices[i] = fixed[i] < 0 ? 0 : static_cast<uint32_t>(fixed[i]);
    const CheckResult* result = nullptr;
    size_t image = 0;
    NVLAB_RETURN_IF_ERROR(Visit(space, choices, out, &result, &image));

    // The free lines the check read, first read first, each once.
    std::vector<size_t> branch;
    std::vector<bool> read(lines, false);
    for (uint64_t gpa : result->lines_read) {
      const int64_t index = space.UndeterminedIndex(gpa);
      if (index < 0 || read[index]) continue;
      read[index] = true;
      if (fixed[index] < 0) branch.push_back(static_cast<size_t>(index));
    }
    StateCount covered(1);
    for (size_t i = 0; i < lines; ++i) {
      if (fixed[i] < 0 && !read[i])
        covered = covered * StateCount(space.undetermined[i].candidates.size());
    }
    out->pruned += covered - StateCount(1);
    if (!result->passed) {
      ExploreFailure failure{choices, {}, covered, image};
      for (size_t i = 0; i < lines; ++i) {
        if (fixed[i] >= 0 || read[i]) failure.pinned.push_back(i);
      }
      NoteFailure(std::move(failure), out);
    }
    // Branch i: the branch lines before it as in this run, line i on another candidate. Pushed
    // last-first, so the first line read varies first.
    for (size_t b = branch.size(); b-- > 0;) {
      const size_t line = branch[b];
      std::vector<int32_t> child = fixed;
      for (size_t j = 0; j < b; ++j) child[branch[j]] = 0;
      for (size_t c = space.undetermined[line].candidates.size(); c-- > 1;) {
        child[line] = static_cast<int32_t>(c);
        stack.push_back(child);
      }
    }
  }
  return Status::Ok();
}

Status LazyExplorer::Explore(const CrashStateSpace& space, CrashPointResult* result) {
  CrashPointResult out;
  out.crash_point = space.crash_point;
  out.states = space.Count();
  NVLAB_RETURN_IF_ERROR(options_.prune ? ExplorePruned(space, &out)
                                       : ExploreExhaustive(space, &out));
  ++totals_.crash_points;
  totals_.states += out.states;
  totals_.visited += out.visited;
  totals_.distinct += out.distinct;
  totals_.pruned += out.pruned;
  totals_.not_tried += out.not_tried;
  totals_.failed_visits += out.failed_visits;
  totals_.failed_states += out.failed_states;
  *result = std::move(out);
  return Status::Ok();
}

}  // namespace nvlab::explore
