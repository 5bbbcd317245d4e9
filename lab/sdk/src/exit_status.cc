// exit_status.cc -- ExitStatusOf.

#include "nvlab/exit_status.h"

namespace nvlab {

int ExitStatusOf(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return exit_status::kSuccess;
    case Status::Code::kInvalidArgument:
      return exit_status::kUsageError;
    case Status::Code::kTimeout:
      // The SDK's calls are bounded by LabConfig::timeout_seconds alone: the lab's inner waits
      // are reported by the session as lab failures (GuestDied, IoError), not Timeout.
      return exit_status::kTimeout;
    case Status::Code::kCancelled:
      return exit_status::kInterrupted;
    default:
      return exit_status::kLabFailure;
  }
}

}  // namespace nvlab
