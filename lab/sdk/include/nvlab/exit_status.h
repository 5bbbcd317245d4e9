// File: nvlab/exit_status.h
//
// The exit statuses the nvlab command documents (docs/design/interfaces.md, "Exit statuses"), as
// named constants, and ExitStatusOf, which gives the status nvlab would exit with for an SDK
// call's failure. Part of the SDK (nvlab::nvlab, docs/design/sdk.md).
//
// Thread-safety: constants and a pure function.

#ifndef NVLAB_SDK_EXIT_STATUS_H_
#define NVLAB_SDK_EXIT_STATUS_H_

#include "nvlab/status.h"

namespace nvlab::exit_status {

inline constexpr int kSuccess = 0;
// kCheckFailed: `campaign` and `explore`: a case or a crash state failed its check.
inline constexpr int kCheckFailed = 1;
// kUsageError: a bad option or value, a machine that does not exist or parse.
inline constexpr int kUsageError = 2;
// kTimeout: the limit on the whole call (--timeout, LabConfig::timeout_seconds) expired.
inline constexpr int kTimeout = 124;
// kLabFailure: the lab failed (QEMU missing or dead, no boot, a kernel panic, a hung guest, a
// malformed cut report, ...); never the guest command's own failure.
inline constexpr int kLabFailure = 125;
// kInterrupted: SIGINT, SIGTERM or SIGHUP.
inline constexpr int kInterrupted = 130;
// kSignalBase: a guest command killed by signal N exits kSignalBase + N, as a shell reports it.
inline constexpr int kSignalBase = 128;

}  // namespace nvlab::exit_status

namespace nvlab {

// ExitStatusOf maps an SDK call's failure to the status nvlab would exit with: 0 for OK,
// kUsageError for kInvalidArgument, kTimeout for kTimeout, kInterrupted for kCancelled,
// kLabFailure for the rest.
int ExitStatusOf(const Status& status);

}  // namespace nvlab

#endif  // NVLAB_SDK_EXIT_STATUS_H_
