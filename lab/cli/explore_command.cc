// explore_command.cc -- RunExplore.

#include "explore_command.h"

#include <unistd.h>

#include <iostream>

#include "lab_session.h"
#include "nvlab/exploration/exploration.h"
#include "nvlab/exploration/exploration_html.h"
#include "nvlab/exploration/exploration_report.h"
#include "nvlab/file_contents.h"

namespace nvlab {

int RunExplore(const CliOptions& options) {
  LabSession lab(options);
  ExplorationConfig config;
  Status s = lab.MakeGuestConfig(&config.guest);
  if (s.ok()) {
    const ExploreOptions& e = options.explore;
    config.workload = e.workload;
    config.check = e.check;
    config.crash_points = e.crash_points;
    config.seed = e.seed;
    config.max_states = e.max_states;
    config.prune = !e.no_prune;
    config.jobs = e.jobs;
    config.keep_failures = e.keep_failures;
    config.recording_dir = e.recording;
    config.deadline = Deadline::In(std::chrono::seconds(options.timeout_seconds));
    config.symbol_dirs = lab.SymbolDirs();
    config.log = options.verbose ? &std::cerr : nullptr;
    // A progress bar only where someone watches it, and not mixed with -v's lines.
    config.progress = !options.verbose && isatty(STDERR_FILENO) ? &std::cerr : nullptr;
  }
  ExplorationResult result;
  if (s.ok()) s = ExploreCrashStates(config, &result);
  if (!s.ok()) {
    std::cerr << "nvlab: explore: " << s.message() << "\n";
    // 124 is the user's --timeout only: a check that outlived its own limit is the lab's failure.
    if (s.code() == Status::Code::kTimeout && !config.deadline.expired()) return 125;
    return s.code() == Status::Code::kInvalidArgument ? 125 : ExitStatusFor(s);
  }
  std::cerr << ExplorationText(result);
  int status = result.totals.failed_visits > 0 ? 1 : 0;
  if (!options.explore.json_out.empty()) {
    if (Status w =
            WriteFileAtomically(options.explore.json_out, ExplorationJson(result).dump(2) + "\n");
        !w.ok()) {
      std::cerr << "nvlab: explore: " << w.message() << "\n";
      status = 2;
    }
  }
  if (!options.explore.junit_out.empty()) {
    if (Status w = WriteFileAtomically(options.explore.junit_out, ExplorationJunit(result));
        !w.ok()) {
      std::cerr << "nvlab: explore: " << w.message() << "\n";
      status = 2;
    }
  }
  if (!options.explore.html_out.empty()) {
    if (Status w = WriteFileAtomically(options.explore.html_out, ExplorationHtml(result));
        !w.ok()) {
      std::cerr << "nvlab: explore: " << w.message() << "\n";
      status = 2;
    }
  }
  std::cerr << "nvlab: " << ExplorationSummaryLine(result) << "\n";
  return status;
}

}  // namespace nvlab
