// libvirt_test_environment.cc -- LibvirtDaemons as a GoogleTest global Environment.

#include "libvirt_test_environment.h"

namespace nvlab::testing {

LibvirtTestEnvironment* LibvirtTestEnvironment::Install() {
  auto* environment = new LibvirtTestEnvironment;  // GoogleTest owns it from here.
  ::testing::AddGlobalTestEnvironment(environment);
  return environment;
}

void LibvirtTestEnvironment::SetUp() {
  status_ = LibvirtDaemons::Start(&daemons_);
}

void LibvirtTestEnvironment::TearDown() {
  daemons_.Stop();
}

}  // namespace nvlab::testing
