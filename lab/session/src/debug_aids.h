// debug_aids.h -- what --keep, --console and --gdb do to a guest's configuration
// (ApplyDebugOptions), and --gdb's host side: whether the gdbstub's port is free, and the gdb
// command lines printed while the guest waits for gdb (docs/design/interfaces.md, "Debugging").
//
// Thread-safety: plain functions.

#ifndef NVLAB_CLI_DEBUG_AIDS_H_
#define NVLAB_CLI_DEBUG_AIDS_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "nvlab/guest.h"
#include "nvlab/lab_options.h"
#include "nvlab/status.h"

namespace nvlab {

// ApplyDebugOptions sets config's keep_run_folder, console_fd (stderr) and gdb_port; with
// --gdb it also turns the hang timeout off (a guest stopped in gdb is silent) and, unless
// dry_run, checks the port and renders the hints. The caller boots cold with --gdb.
Status ApplyDebugOptions(const DebugOptions& options, bool dry_run, GuestConfig* config);

// CheckGdbPortFree binds 127.0.0.1:port for a moment: FailedPrecondition naming the port and
// the fix (--gdb=PORT) when something listens there already.
Status CheckGdbPortFree(uint16_t port);

// kMaxSharedProgramsInHints: how many ELF executables of the --share folder GdbHints names.
inline constexpr int kMaxSharedProgramsInHints = 8;

// GdbHints is the text printed when a boot waits for gdb, each line starting "nvlab:   ": the
// gdb command line that attaches (with the kernel's symbols when `kernel` has a symbol table,
// else what gdb can do without), and an add-symbol-file line for each ELF executable directly
// in `share_dir` (empty: none): at its link address for a fixed one, with -o BASE for a PIE.
std::string GdbHints(uint16_t port, const std::filesystem::path& kernel,
                     const std::filesystem::path& share_dir);

}  // namespace nvlab

#endif  // NVLAB_CLI_DEBUG_AIDS_H_
