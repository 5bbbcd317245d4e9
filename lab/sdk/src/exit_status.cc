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
      // Lab and LabGuest return Timeout only for LabConfig::timeout_seconds: a lab wait that
      // expires before it is a lab failure (lab.cc, CallResult).
      return exit_status::kTimeout;
    case Status::Code::kCancelled:
      return exit_status::kInterrupted;
    default:
      return exit_status::kLabFailure;
  }
}

}  // namespace nvlab
