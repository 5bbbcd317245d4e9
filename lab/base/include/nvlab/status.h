// File: nvlab/status.h
//
// nvlab::Status is the result of every fallible call in the host library: either OK or a code
// with a message. No exception crosses the library's boundary; callers test ok() and print
// ToString(). Status is a value type, cheap to copy when OK (no allocation).
//
// Thread-safety: a Status is immutable once made; distinct objects may be used from any thread.

#ifndef NVLAB_STATUS_H_
#define NVLAB_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

namespace nvlab {

class Status {
 public:
  // Code says which kind of failure it is; the nvlab command maps codes to exit statuses
  // (kInvalidArgument: 2, kTimeout: 124, the rest of the lab's failures: 125).
  enum class Code {
    kOk = 0,
    kInvalidArgument,     // A caller's value is wrong: an option, a machine file, a request.
    kNotFound,            // A file, program or image that should exist does not.
    kIoError,             // A system call failed; the message carries strerror.
    kTimeout,             // A deadline passed (a guest that hangs, a QEMU that does not answer).
    kGuestDied,           // QEMU exited or crashed while the lab still needed it.
    kProtocolError,       // A peer (QMP, the guest agent) sent something malformed or too long.
    kNotSupported,        // The host cannot do this (QEMU too old, KVM unusable, ...).
    kFailedPrecondition,  // The lab is in the wrong state for the call.
    kCancelled,           // The user interrupted nvlab (SIGINT, SIGTERM, SIGHUP).
  };

  // Status() is OK.
  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string_view msg) { return {Code::kInvalidArgument, msg}; }
  static Status NotFound(std::string_view msg) { return {Code::kNotFound, msg}; }
  static Status IoError(std::string_view msg) { return {Code::kIoError, msg}; }
  // IoErrorFromErrno builds "msg: strerror(err)".
  static Status IoErrorFromErrno(std::string_view msg, int err);
  static Status Timeout(std::string_view msg) { return {Code::kTimeout, msg}; }
  static Status GuestDied(std::string_view msg) { return {Code::kGuestDied, msg}; }
  static Status ProtocolError(std::string_view msg) { return {Code::kProtocolError, msg}; }
  static Status NotSupported(std::string_view msg) { return {Code::kNotSupported, msg}; }
  static Status FailedPrecondition(std::string_view msg) {
    return {Code::kFailedPrecondition, msg};
  }

  static Status Cancelled(std::string_view msg) { return {Code::kCancelled, msg}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // ToString returns "OK" or "<code name>: <message>".
  std::string ToString() const;

  // WithContext returns a copy whose message is "context: message" (OK stays OK).
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string_view msg) : code_(code), message_(msg) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// CodeName returns the stable name of a code ("InvalidArgument", ...).
const char* CodeName(Status::Code code);

}  // namespace nvlab

// NVLAB_RETURN_IF_ERROR returns the status of expr from the enclosing function when it fails.
#define NVLAB_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::nvlab::Status nvlab_status_ = (expr);        \
    if (!nvlab_status_.ok()) return nvlab_status_; \
  } while (0)

#endif  // NVLAB_STATUS_H_
