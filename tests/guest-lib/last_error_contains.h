// last_error_contains.h -- LastErrorContains: the guest-lib tests' check of why a call failed.
//
// Every invalid argument returns the same STATUS_INVALID_PARAMETER, so the status alone does not
// show which check refused a call; NvGetLastErrorMessage() does.
#ifndef NVRTL_TESTS_LAST_ERROR_CONTAINS_H_
#define NVRTL_TESTS_LAST_ERROR_CONTAINS_H_

#include <gtest/gtest.h>

#include <string>

#include "nvrtl/nvrtl.h"

// LastErrorContains -- success when this thread's last failure message contains `part`; the
// failure shows the whole message.
inline ::testing::AssertionResult LastErrorContains(const std::string& part) {
  const std::string message = NvGetLastErrorMessage();
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "last error \"" << message << "\" lacks \"" << part << "\"";
}

#endif  // NVRTL_TESTS_LAST_ERROR_CONTAINS_H_
