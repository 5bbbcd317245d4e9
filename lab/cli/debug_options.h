// debug_options.h -- the debugging aids of nvlab run and power-cycle: --keep, --console and
// --gdb[=PORT] (docs/design/interfaces.md, "Debugging").
//
// AddDebugOptions adds them to a command; DebugOptionProblem checks the rules that span them
// and the other options. Pure functions of the command line, like the rest of cli_options.h.

#ifndef NVLAB_CLI_DEBUG_OPTIONS_H_
#define NVLAB_CLI_DEBUG_OPTIONS_H_

#include <cstdint>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace nvlab {

// kDefaultGdbPort: --gdb without a port (gdb's own habit).
inline constexpr uint16_t kDefaultGdbPort = 1234;

struct DebugOptions {
  // keep: the run folder (console and QEMU logs, cut reports, NVDIMM files nvlab made) stays
  // when the guest ends, marked so that no later nvlab sweeps it.
  bool keep = false;
  // console: the guest's serial console is copied to stderr as it arrives.
  bool console = false;
  // gdb_port: QEMU's gdbstub listens on 127.0.0.1:gdb_port and the guest waits for gdb to
  // continue it; 0: no gdbstub.
  uint16_t gdb_port = 0;
};

// AddDebugOptions adds --keep, --console and --gdb[=PORT] to `command` (run, power-cycle).
void AddDebugOptions(CLI::App* command, DebugOptions* o);

// DebugOptionProblem: the debugging aids need a guest nvlab boots itself (not --domain) that
// really runs (not --dry-run, but for --gdb, whose -gdb option the dry run shows); empty when
// there is no problem.
std::string DebugOptionProblem(const DebugOptions& o, bool dry_run, bool on_domain);

}  // namespace nvlab

#endif  // NVLAB_CLI_DEBUG_OPTIONS_H_
