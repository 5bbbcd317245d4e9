// last_error.cc -- NvGetLastErrorMessage and the recorders behind it.
#include "last_error.h"

#include <cstdarg>
#include <cstdio>

namespace nvrtl {
namespace {

// Per-thread state, not global: each thread sees its own last failure. initial-exec TLS so that
// the shared library's first touch never allocates (no __tls_get_addr slow path).
__attribute__((tls_model("initial-exec"))) thread_local const char* t_message = "";
__attribute__((tls_model("initial-exec"))) thread_local char t_buffer[256];

}  // namespace

NTSTATUS Fail(NTSTATUS status, const char* why) noexcept {
  t_message = why;
  return status;
}

NTSTATUS FailFormatted(NTSTATUS status, const char* format, ...) noexcept {
  va_list args;
  va_start(args, format);
  // clang-analyzer 14 misses va_start here (valist.Uninitialized false positive).
  // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
  (void)std::vsnprintf(t_buffer, sizeof t_buffer, format, args);
  va_end(args);
  t_message = t_buffer;
  return status;
}

}  // namespace nvrtl

extern "C" NVRTL_API const char* NvGetLastErrorMessage(void) {
  return nvrtl::t_message;
}
