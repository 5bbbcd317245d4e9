// File: nvlab/agent/boot_timing.h
//
// The guest's record of when its boot phases began: "KEY=UPTIME" lines in /run/nvlab/timing
// (init writes the first), which the agent's hello reports as timing.KEY for the host's -v
// phase line (docs/formats/agent-protocol.md).
//
// Thread-safety: appends whole lines with O_APPEND.

#ifndef NVLAB_AGENT_BOOT_TIMING_H_
#define NVLAB_AGENT_BOOT_TIMING_H_

#include <string>

namespace nvlab::agent {

inline constexpr const char* kBootTimingFile = "/run/nvlab/timing";

// GuestUptime returns the first field of /proc/uptime ("12.34"), or "" when unreadable.
std::string GuestUptime();

// RecordBootPhase appends "key=<uptime>" to kBootTimingFile (nothing when it cannot).
void RecordBootPhase(const char* key);

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_BOOT_TIMING_H_
