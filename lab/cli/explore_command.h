// explore_command.h -- `nvlab explore --workload CMD --check CMD`: crash-state exploration
// (lab/exploration) driven from the command line with the lab options of a LabSession.
//
// Exit status: 0 every crash state passed the check; 1 some state failed; 2 a usage error (a bad
// --crash-points, an output path that cannot be written); 124 --timeout expired; 125 the
// exploration could not run (the workload failed or cut the power, a guest did not boot, a
// check hung past its limit, a malformed recording); 130 interrupted.
// stderr ends with ExplorationSummaryLine (nvlab/exploration/exploration_report.h).
//
// Thread-safety: call from the main thread once per process.

#ifndef NVLAB_EXPLORE_COMMAND_H_
#define NVLAB_EXPLORE_COMMAND_H_

#include "cli_options.h"

namespace nvlab {

int RunExplore(const CliOptions& options);

}  // namespace nvlab

#endif  // NVLAB_EXPLORE_COMMAND_H_
