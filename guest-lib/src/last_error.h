// last_error.h -- the thread-local sentence behind NvGetLastErrorMessage.
//
// Every failing check records a sentence before returning its NTSTATUS. Hot-path callers pass
// string literals (Fail): one thread-local pointer store, no formatting, no allocation. Set-up
// paths may format (FailFormatted). Thread-safety: per thread by construction.
#ifndef NVRTL_SRC_LAST_ERROR_H_
#define NVRTL_SRC_LAST_ERROR_H_

#include "nvrtl/nvrtl.h"

namespace nvrtl {

// Fail -- records `why` (a string literal) and returns `status`.
NTSTATUS Fail(NTSTATUS status, const char* why) noexcept;

// FailFormatted -- records a printf-formatted sentence (truncated to 255 bytes).
NTSTATUS FailFormatted(NTSTATUS status, const char* format, ...) noexcept
    __attribute__((format(printf, 2, 3)));

}  // namespace nvrtl

#endif  // NVRTL_SRC_LAST_ERROR_H_
