// libvirt_test_environment.h -- the GoogleTest global Environment of test binaries that need a
// running libvirt (LibvirtDaemons, libvirt_daemons.h): started once before the binary's first
// test, stopped after its last.
//
// Usage, at namespace scope of one of the binary's test files:
//
//   nvlab::testing::LibvirtTestEnvironment* const libvirt =
//       nvlab::testing::LibvirtTestEnvironment::Install();
//
// and in each test, first: NVLAB_REQUIRE_LIBVIRT(libvirt); which skips the test when libvirt
// cannot run here at all (not root, not installed) and fails it when libvirt should but did not
// start. Register the binary with add_test (one process for all its tests: libvirt starts once),
// LABELS libvirt and RESOURCE_LOCK libvirtd (tests/emulator/CMakeLists.txt).
//
// Thread-safety: GoogleTest's main thread only.

#ifndef NVLAB_TESTS_SUPPORT_LIBVIRT_TEST_ENVIRONMENT_H_
#define NVLAB_TESTS_SUPPORT_LIBVIRT_TEST_ENVIRONMENT_H_

#include <gtest/gtest.h>

#include "libvirt_daemons.h"
#include "nvlab/status.h"

namespace nvlab::testing {

class LibvirtTestEnvironment : public ::testing::Environment {
 public:
  // Install registers a new environment with GoogleTest (which owns it) and returns it.
  static LibvirtTestEnvironment* Install();

  void SetUp() override;
  void TearDown() override;

  // status: how LibvirtDaemons::Start went (NotSupported: libvirt cannot run on this host).
  const Status& status() const { return status_; }
  const char* uri() const { return daemons_.uri(); }

 private:
  LibvirtDaemons daemons_;
  Status status_ = Status::FailedPrecondition("the libvirt test environment was not set up");
};

}  // namespace nvlab::testing

// NVLAB_REQUIRE_LIBVIRT(env): skip the test when libvirt cannot run on this host, fail it when
// libvirt did not start.
#define NVLAB_REQUIRE_LIBVIRT(env)                                                  \
  do {                                                                              \
    if ((env)->status().code() == ::nvlab::Status::Code::kNotSupported) {           \
      GTEST_SKIP() << "no libvirt here: " << (env)->status().message();             \
    }                                                                               \
    ASSERT_TRUE((env)->status().ok()) << "libvirt: " << (env)->status().ToString(); \
  } while (0)

#endif  // NVLAB_TESTS_SUPPORT_LIBVIRT_TEST_ENVIRONMENT_H_
