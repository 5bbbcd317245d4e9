// debug_options.h -- the debugging aids of nvlab run and power-cycle: --keep, --console and
// --gdb[=PORT] (docs/design/interfaces.md, "Debugging").
//
// AddDebugOptions adds them to a command (they fill LabOptions::debug, nvlab/lab_options.h);
// DebugOptionProblem checks the rules that span them and the other options. Pure functions of
// the command line, like the rest of cli_options.h.

#ifndef NVLAB_CLI_DEBUG_OPTIONS_H_
#define NVLAB_CLI_DEBUG_OPTIONS_H_

#include <string>

#include "nvlab/lab_options.h"  // DebugOptions

namespace CLI {
class App;
}  // namespace CLI

namespace nvlab {

// AddDebugOptions adds --keep, --console and --gdb[=PORT] to `command` (run, power-cycle).
void AddDebugOptions(CLI::App* command, DebugOptions* o);

// DebugOptionProblem: the debugging aids need a guest nvlab boots itself (not --domain) that
// really runs (not --dry-run, but for --gdb, whose -gdb option the dry run shows); empty when
// there is no problem.
std::string DebugOptionProblem(const DebugOptions& o, bool dry_run, bool on_domain);

}  // namespace nvlab

#endif  // NVLAB_CLI_DEBUG_OPTIONS_H_
