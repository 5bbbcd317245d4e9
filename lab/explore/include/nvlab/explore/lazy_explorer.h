// File: nvlab/explore/lazy_explorer.h
//
// LazyExplorer checks the crash states of crash points, Jaaru-style (docs/design/exploration.md
// "Lazy exploration"): it runs the check on one state, learns which NVDIMM lines the check
// read, and branches only on those. Every state that agrees with the checked one on every line
// the check read leads to the same run of a deterministic check (it reads the same values, so
// it takes the same path, reads the same lines and returns the same verdict); those states are
// counted as pruned, not run. The search is depth first, the first line read varying first, so
// that it is the same for the same space and check, seed or not.
//
// With prune off it is exhaustive: every state in StateIterator's order, or, when a crash point
// has more than max_checks states, a seeded sample (state_sample.h) with the rest reported as
// not tried. With prune on, a search that reaches max_checks stops and reports what it had not
// covered as not tried. For every crash point: visited + pruned + not_tried = its states.
//
// Images are checked once: a state whose image was checked before (at this crash point or an
// earlier one; crash_image.h) reuses that result without running the check again. `distinct`
// counts the runs.
//
// The check is a callback: given the image (the lines that differ from the recording's initial
// image), it fills the verdict and the lines it read, in the order it read them (any address
// in a line names the line; lines outside the space are ignored). A check that cannot run
// returns a non-OK status and Explore stops with it. The host's check runs in a guest with the
// model watching its NVDIMM loads.
//
// Batches: with options.batch > 1 the check is a BatchCheckFunction given up to that many
// distinct new images at once, which it may check in parallel (the host has one check guest
// per job). A batch is the top of the search's stack: nodes whose subtrees are disjoint, so
// each is expanded from its own result exactly as one at a time would, and every node of the
// tree is still visited once. Without a budget the counts, verdicts and failing states do not
// depend on the batch size; only the order failures are listed in (visiting order) does. A
// budget (max_checks) stops after the same number of visits, not at the same nodes. With batch
// 1 the search is exactly the sequential one.
//
// Life cycle: construct with options and the check; Explore each crash point's space, in any
// order; totals() sums them. The image cache grows with every distinct image checked, in the
// order the check (or the batch, image by image) was given them.
// Thread-safety: an object is not safe for concurrent use (a batch check may use threads of
// its own for the images of one call).

#ifndef NVLAB_EXPLORE_LAZY_EXPLORER_H_
#define NVLAB_EXPLORE_LAZY_EXPLORER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "nvlab/explore/crash_image.h"
#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/state_count.h"
#include "nvlab/status.h"

namespace nvlab::explore {

struct CheckResult {
  bool passed = true;
  std::vector<uint64_t> lines_read;  // NVDIMM addresses the check loaded from, in load order.
};

using CheckFunction = std::function<Status(const CrashImage& image, CheckResult* result)>;
// BatchCheckFunction checks several distinct images: (*results)[k] is images[k]'s result. A
// non-OK status stops the exploration (no result of the batch is used).
using BatchCheckFunction = std::function<Status(std::span<const CrashImage* const> images,
                                                std::vector<CheckResult>* results)>;

struct ExploreOptions {
  bool prune = true;                   // false: --no-prune, exhaustive.
  uint64_t max_checks = ~uint64_t{0};  // States visited per crash point at most.
  uint64_t seed = 0;                   // The sample when prune is off and states > max_checks.
  size_t max_failures_listed = 100;    // Per crash point; every failure is counted.
  size_t batch = 1;                    // States visited together (see "Batches" above).
};

// ExploreFailure is a failing state, and the states that fail with it: those that agree with
// `choices` on every line in `pinned` (the lines the check read or the search had fixed; with
// prune off, every line).
struct ExploreFailure {
  StateChoices choices;
  std::vector<size_t> pinned;  // Indexes into the space's undetermined lines, ascending.
  StateCount represented;      // How many states that is (1 with prune off).
  size_t image = 0;            // The image's index in the explorer's image index.
};

struct CrashPointResult {
  uint64_t crash_point = 0;
  StateCount states;      // The exhaustive count of the crash point.
  uint64_t visited = 0;   // States given to the check (or answered from its cache).
  uint64_t distinct = 0;  // Of them, images checked for the first time: the check's runs.
  StateCount pruned;      // States covered by a visited state without being visited.
  StateCount not_tried;   // States neither visited nor pruned (budget or sample).
  uint64_t failed_visits = 0;
  StateCount failed_states;              // Visited or pruned states known to fail.
  std::vector<ExploreFailure> failures;  // At most max_failures_listed, in visiting order.
};

struct ExploreTotals {
  uint64_t crash_points = 0;
  StateCount states;
  uint64_t visited = 0;
  uint64_t distinct = 0;
  StateCount pruned;
  StateCount not_tried;
  uint64_t failed_visits = 0;
  StateCount failed_states;
};

class LazyExplorer {
 public:
  LazyExplorer(ExploreOptions options, CheckFunction check);
  LazyExplorer(ExploreOptions options, BatchCheckFunction check);

  Status Explore(const CrashStateSpace& space, CrashPointResult* result);

  const ExploreTotals& totals() const { return totals_; }
  const CrashImageIndex& images() const { return images_; }

 private:
  // Visit checks the states of `batch` (or finds their images' results) and counts them:
  // (*images)[k] is the image index of batch[k], its result results_[(*images)[k]].
  Status Visit(const CrashStateSpace& space, const std::vector<StateChoices>& batch,
               CrashPointResult* out, std::vector<size_t>* images);
  Status ExploreExhaustive(const CrashStateSpace& space, CrashPointResult* out);
  Status ExplorePruned(const CrashStateSpace& space, CrashPointResult* out);
  void NoteFailure(ExploreFailure failure, CrashPointResult* out) const;

  ExploreOptions options_;
  BatchCheckFunction check_;
  CrashImageIndex images_;
  std::vector<CheckResult> results_;  // By image index.
  ExploreTotals totals_;
};

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_LAZY_EXPLORER_H_
