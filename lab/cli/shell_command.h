// shell_command.h -- `nvlab shell [--power-cycle] [lab options]`: an interactive shell in a fresh
// guest, on the terminal nvlab runs in (docs/design/interfaces.md, "nvlab shell").
//
// It boots a guest as `nvlab run` does (warm start unless --cold, the NVDIMMs set up, NVLAB_PMEM
// set, the guest tools on PATH), puts the user's terminal into raw mode (terminal_raw_mode.h)
// and relays a shell on a pseudo-terminal in the guest (agent frames pty-*: job control, ^C to
// the guest's foreground processes, the window size following the terminal, TERM passed on).
// Leaving the shell (exit, ^D) powers the guest off.
//
// --power-cycle: the first shell ends with a power cut, either the guest's own (nvlab-powercut,
// or any program that calls NvLabPowerCut) or, when the user leaves the shell, a host cut at
// that moment (as power-cycle cuts when --before exits). nvlab prints the cut's report as
// power-cycle does, boots the next guest on what the NVDIMMs kept and opens a second shell;
// leaving it ends nvlab.
//
// Exit status: 0 when the shell (the last one) ended, however it ended: an interactive shell's
// status is its last command's, which says nothing about the lab; a nonzero one is named on
// stderr ("nvlab: the shell exited with status N"). 2: usage error, including a standard input
// that is not a terminal; 124: --timeout expired (without it: 86400 s, the longest); 125: the lab
// failed (a boot, a hung or dead guest); 130: interrupted (SIGTERM, SIGHUP; ^C belongs to the
// guest). The terminal's settings are restored on every one of these ways out.
//
// Thread-safety: call from the main thread once per process.

#ifndef NVLAB_SHELL_COMMAND_H_
#define NVLAB_SHELL_COMMAND_H_

#include "cli_options.h"

namespace nvlab {

int RunShell(const CliOptions& options);

}  // namespace nvlab

#endif  // NVLAB_SHELL_COMMAND_H_
