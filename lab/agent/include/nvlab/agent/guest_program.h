// File: nvlab/agent/guest_program.h
//
// RunGuestProgram runs one of the guest image's tools (modprobe, mkfs.ext4, mkfs.xfs) to the
// end and keeps what it printed, for the error message when it fails.
//
// Thread-safety: forks; call from one thread.

#ifndef NVLAB_AGENT_GUEST_PROGRAM_H_
#define NVLAB_AGENT_GUEST_PROGRAM_H_

#include <string>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::agent {

// RunGuestProgram runs argv (argv[0] looked up in PATH) with stdin from /dev/null, the extra
// "KEY=VALUE" entries added to the environment, and stdout and stderr together captured (the
// first 4 KiB). Ok when it exits 0; otherwise an error naming the program, how it ended and
// what it printed.
Status RunGuestProgram(const std::vector<std::string>& argv,
                       const std::vector<std::string>& extra_environment = {});

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_GUEST_PROGRAM_H_
