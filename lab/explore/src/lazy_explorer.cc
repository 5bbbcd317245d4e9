// lazy_explorer.cc -- LazyExplorer: pruned (read-set driven) and exhaustive exploration.
#include "nvlab/explore/lazy_explorer.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "nvlab/explore/state_sample.h"

namespace nvlab::explore {

LazyExplorer::LazyExplorer(ExploreOptions options, CheckFunction check)
    : LazyExplorer(options,
                   [check = std::move(check)](std::span<const CrashImage* const> images,
                                              std::vector<CheckResult>* results) -> Status {
                     results->assign(images.size(), CheckResult());
                     for (size_t k = 0; k < images.size(); ++k) {
                       NVLAB_RETURN_IF_ERROR(check(*images[k], &(*results)[k]));
                     }
                     return Status::Ok();
                   }) {}

LazyExplorer::LazyExplorer(ExploreOptions options, BatchCheckFunction check)
    : options_(options), check_(std::move(check)) {
  options_.batch = std::max<size_t>(1, options_.batch);
}

Status LazyExplorer::Visit(const CrashStateSpace& space, const std::vector<StateChoices>& batch,
                           CrashPointResult* out, std::vector<size_t>* images) {
  // Each state's image: an index already, or a slot among the batch's new images (a state whose
  // image another state of the batch has is checked once).
  constexpr size_t kNew = size_t{1} << 63;
  std::vector<CrashImage> fresh;
  images->assign(batch.size(), 0);
  for (size_t k = 0; k < batch.size(); ++k) {
    CrashImage image = MakeCrashImage(space, batch[k]);
    ++out->visited;
    if (const int64_t found = images_.Find(image); found >= 0) {
      (*images)[k] = static_cast<size_t>(found);
      continue;
    }
    size_t slot = 0;
    while (slot < fresh.size() &&
           (fresh[slot].hash != image.hash || fresh[slot].lines != image.lines)) {
      ++slot;
    }
    if (slot == fresh.size()) fresh.push_back(std::move(image));
    (*images)[k] = kNew | slot;
  }
  if (fresh.empty()) return Status::Ok();
  std::vector<const CrashImage*> pointers;
  pointers.reserve(fresh.size());
  for (const CrashImage& image : fresh) pointers.push_back(&image);
  std::vector<CheckResult> results;
  NVLAB_RETURN_IF_ERROR(check_(pointers, &results));
  if (results.size() != fresh.size()) {
    return Status::FailedPrecondition("the batch check returned " + std::to_string(results.size()) +
                                      " results for " + std::to_string(fresh.size()) + " images");
  }
  std::vector<size_t> index_of(fresh.size());
  for (size_t slot = 0; slot < fresh.size(); ++slot) {
    index_of[slot] = images_.Insert(std::move(fresh[slot])).first;
    results_.push_back(std::move(results[slot]));
    ++out->distinct;
  }
  for (size_t& image : *images) {
    if (image & kNew) image = index_of[image & ~kNew];
  }
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
  for (size_t first = 0; first < selection.states.size(); first += options_.batch) {
    const size_t last = std::min(selection.states.size(), first + options_.batch);
    const std::vector<StateChoices> batch(selection.states.begin() + static_cast<ptrdiff_t>(first),
                                          selection.states.begin() + static_cast<ptrdiff_t>(last));
    std::vector<size_t> images;
    NVLAB_RETURN_IF_ERROR(Visit(space, batch, out, &images));
    for (size_t k = 0; k < batch.size(); ++k) {
      if (!results_[images[k]].passed) NoteFailure({batch[k], all, StateCount(1), images[k]}, out);
    }
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
    // The batch: the top of the stack, top first (with batch 1, the sequential search).
    const size_t take = static_cast<size_t>(
        std::min<uint64_t>({options_.batch, stack.size(), options_.max_checks - out->visited}));
    std::vector<std::vector<int32_t>> nodes;
    std::vector<StateChoices> batch;
    for (size_t n = 0; n < take; ++n) {
      nodes.push_back(std::move(stack.back()));
      stack.pop_back();
      StateChoices choices(lines);
      for (size_t i = 0; i < lines; ++i)
        choices[i] = nodes.back()[i] < 0 ? 0 : static_cast<uint32_t>(nodes.back()[i]);
      batch.push_back(std::move(choices));
    }
    std::vector<size_t> images;
    NVLAB_RETURN_IF_ERROR(Visit(space, batch, out, &images));
    for (size_t n = 0; n < nodes.size(); ++n) {
      const std::vector<int32_t>& fixed = nodes[n];
      const CheckResult& result = results_[images[n]];
      // The free lines the check read, first read first, each once.
      std::vector<size_t> branch;
      std::vector<bool> read(lines, false);
      for (uint64_t gpa : result.lines_read) {
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
      if (!result.passed) {
        ExploreFailure failure{batch[n], {}, covered, images[n]};
        for (size_t i = 0; i < lines; ++i) {
          if (fixed[i] >= 0 || read[i]) failure.pinned.push_back(i);
        }
        NoteFailure(std::move(failure), out);
      }
      // Branch i: the branch lines before it as in this run, line i on another candidate.
      // Pushed last-first, so the first line read varies first.
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
