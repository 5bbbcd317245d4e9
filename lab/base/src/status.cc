// status.cc -- nvlab::Status: ToString, WithContext, CodeName.

#include "nvlab/status.h"

#include <cstring>

namespace nvlab {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kIoError:
      return "IoError";
    case Status::Code::kTimeout:
      return "Timeout";
    case Status::Code::kGuestDied:
      return "GuestDied";
    case Status::Code::kProtocolError:
      return "ProtocolError";
    case Status::Code::kNotSupported:
      return "NotSupported";
    case Status::Code::kCancelled:
      return "Cancelled";
    case Status::Code::kFailedPrecondition:
      return "FailedPrecondition";
  }
  return "Unknown";
}

Status Status::IoErrorFromErrno(std::string_view msg, int err) {
  std::string text(msg);
  text += ": ";
  text += std::strerror(err);
  return {Code::kIoError, text};
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string text = CodeName(code_);
  text += ": ";
  text += message_;
  return text;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string text(context);
  text += ": ";
  text += message_;
  return {code_, text};
}

}  // namespace nvlab
