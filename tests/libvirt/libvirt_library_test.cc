// libvirt_library_test.cc -- libvirt's client library opened with dlopen (LoadLibvirt), and the
// RAII wrappers through it, against libvirt's built-in test driver (test:///default: an
// in-process hypervisor with one running domain, "test"; no daemon); and nvlab on a host whose
// libvirt.so.0 is not libvirt.

#include "nvlab/libvirt/libvirt_library.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nvlab/libvirt/libvirt_connection.h"
#include "nvlab/libvirt/libvirt_domain.h"
#include "nvlab_process.h"

namespace nvlab {
namespace {

TEST(LibvirtLibraryTest, LoadsOnceWithEveryFunction) {
  const LibvirtLibrary* libvirt = nullptr;
  const Status s = LoadLibvirt(&libvirt);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_NE(libvirt, nullptr);
  EXPECT_NE(libvirt->connect_open, nullptr);
  EXPECT_NE(libvirt->connect_close, nullptr);
  EXPECT_NE(libvirt->connect_get_uri, nullptr);
  EXPECT_NE(libvirt->domain_lookup_by_name, nullptr);
  EXPECT_NE(libvirt->domain_free, nullptr);
  EXPECT_NE(libvirt->domain_is_active, nullptr);
  EXPECT_NE(libvirt->domain_get_xml_desc, nullptr);
  EXPECT_NE(libvirt->domain_suspend, nullptr);
  EXPECT_NE(libvirt->domain_destroy, nullptr);
  EXPECT_NE(libvirt->domain_create, nullptr);
  EXPECT_NE(libvirt->set_error_func, nullptr);
  EXPECT_NE(libvirt->get_last_error, nullptr);
  EXPECT_NE(libvirt->get_last_error_message, nullptr);
  const LibvirtLibrary* again = nullptr;
  ASSERT_TRUE(LoadLibvirt(&again).ok());
  EXPECT_EQ(again, libvirt) << "one table per process";
}

TEST(LibvirtLibraryTest, EveryWrappedCallReachesTheTestDriver) {
  LibvirtConnection connection;
  Status s = LibvirtConnection::Open("test:///default", &connection);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(connection.uri(), "test:///default");
  LibvirtDomain domain;
  s = LibvirtDomain::Lookup(connection, "test", &domain);
  ASSERT_TRUE(s.ok()) << s.ToString();
  bool active = false;
  ASSERT_TRUE(domain.IsActive(&active).ok());
  EXPECT_TRUE(active) << "the test driver's domain starts running";
  std::string xml;
  ASSERT_TRUE(domain.LiveXml(&xml).ok());
  EXPECT_NE(xml.find("<name>test</name>"), std::string::npos) << xml;
  EXPECT_TRUE(domain.Suspend().ok());
  EXPECT_TRUE(domain.Destroy().ok());
  ASSERT_TRUE(domain.IsActive(&active).ok());
  EXPECT_FALSE(active);
  EXPECT_TRUE(domain.Create().ok());
  ASSERT_TRUE(domain.IsActive(&active).ok());
  EXPECT_TRUE(active);
  LibvirtDomain moved = std::move(domain);
  EXPECT_TRUE(moved.IsActive(&active).ok()) << "a move hands the domain over";
}

TEST(LibvirtLibraryTest, LibvirtsErrorsComeBackAsStatusesNamingWhat) {
  LibvirtConnection connection;
  ASSERT_TRUE(LibvirtConnection::Open("test:///default", &connection).ok());
  LibvirtDomain domain;
  Status s = LibvirtDomain::Lookup(connection, "no-such-domain", &domain);
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("no libvirt domain named no-such-domain on test:///default"),
            std::string::npos)
      << s.message();
  // A driver libvirt does not know: its own words, after nvlab's.
  s = LibvirtConnection::Open("nvlab-no-such-driver:///x", &connection);
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("cannot connect to libvirt at nvlab-no-such-driver:///x: "),
            std::string::npos)
      << s.message();
}

TEST(LibvirtLibraryTest, AnUnusableLibvirtIsAClearErrorOfTheDomainCommandsOnly) {
  const std::vector<std::string> env = {"LD_LIBRARY_PATH=" NVLAB_FAKE_LIBVIRT_DIR};
  testing::NvlabResult r = testing::RunNvlab({"run", "--domain", "lab-x", "--", "true"}, env);
  EXPECT_EQ(r.exit_status, 125) << testing::Describe(r);
  EXPECT_NE(r.err.find("cannot load libvirt's client library libvirt.so.0 (Debian package "
                       "libvirt0): virConnectOpen: "),
            std::string::npos)
      << r.err;
  // Commands that do not talk to libvirt never load it, domain XML included.
  r = testing::RunNvlab({"machine", "default", "--libvirt-xml"}, env);
  EXPECT_EQ(r.exit_status, 0) << testing::Describe(r);
  EXPECT_NE(r.out.find("<domain type="), std::string::npos) << r.out;
}

}  // namespace
}  // namespace nvlab
