// persistence_domain_test.cc -- persistence_domain and devdax recognition from a fake sysfs
// tree laid out as the kernel does (NVRTL_SYSFS_ROOT points at it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "persistence_domain.h"

namespace {

namespace fs = std::filesystem;
using nvrtl::DeviceClass;
using nvrtl::PersistenceDomain;

class PersistenceDomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/nvrtl-sysfs-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    const fs::path bus = root_ / "devices/LNXSYSTM:00/ACPI0012:00/ndbus0";
    // region0: eADR, devdax dax0.0 (char 251:0).
    fs::create_directories(bus / "region0/dax0.0/dax/dax0.0");
    fs::create_directories(root_ / "bus/dax");
    std::ofstream(bus / "region0/persistence_domain") << "cpu_cache\n";
    std::ofstream(bus / "region0/dax0.0/dax/dax0.0/size") << "268435456\n";
    fs::create_directory_symlink("../../../../../../../../bus/dax",
                                 bus / "region0/dax0.0/dax/dax0.0/subsystem");
    fs::create_directories(root_ / "dev/char");
    fs::create_directory_symlink(
        "../../devices/LNXSYSTM:00/ACPI0012:00/ndbus0/region0/dax0.0/dax/dax0.0",
        root_ / "dev/char/251:0");
    // region1: ADR, fsdax pmem1 (block 259:1).
    fs::create_directories(bus / "region1/namespace1.0/block/pmem1");
    std::ofstream(bus / "region1/persistence_domain") << "memory_controller\n";
    fs::create_directories(root_ / "dev/block");
    fs::create_directory_symlink(
        "../../devices/LNXSYSTM:00/ACPI0012:00/ndbus0/region1/namespace1.0/block/pmem1",
        root_ / "dev/block/259:1");
    // A character device that is not dax (e.g. /dev/null, 1:3).
    fs::create_directories(root_ / "devices/virtual/mem/null");
    fs::create_directories(root_ / "class/mem");
    fs::create_directory_symlink("../../../../class/mem",
                                 root_ / "devices/virtual/mem/null/subsystem");
    fs::create_directory_symlink("../../devices/virtual/mem/null", root_ / "dev/char/1:3");
    setenv("NVRTL_SYSFS_ROOT", root_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("NVRTL_SYSFS_ROOT");
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  fs::path root_;
};

TEST_F(PersistenceDomainTest, CpuCacheRegionIsEadr) {
  EXPECT_EQ(nvrtl::PersistenceDomainOf(DeviceClass::kChar, 251, 0), PersistenceDomain::kCpuCache);
}

TEST_F(PersistenceDomainTest, MemoryControllerRegionIsAdr) {
  EXPECT_EQ(nvrtl::PersistenceDomainOf(DeviceClass::kBlock, 259, 1),
            PersistenceDomain::kMemoryController);
}

TEST_F(PersistenceDomainTest, UnknownDeviceFallsBackToAdr) {
  EXPECT_EQ(nvrtl::PersistenceDomainOf(DeviceClass::kBlock, 8, 0),
            PersistenceDomain::kMemoryController);
  EXPECT_EQ(nvrtl::PersistenceDomainOf(DeviceClass::kChar, 1, 3),
            PersistenceDomain::kMemoryController);
}

TEST_F(PersistenceDomainTest, DevDaxIsRecognisedBySubsystem) {
  EXPECT_TRUE(nvrtl::IsDevDax(251, 0));
  EXPECT_FALSE(nvrtl::IsDevDax(1, 3));
  EXPECT_FALSE(nvrtl::IsDevDax(251, 9));
}

TEST_F(PersistenceDomainTest, DevDaxSizeIsReadFromSysfs) {
  uint64_t size = 0;
  ASSERT_TRUE(nvrtl::ReadSysfsNumber(DeviceClass::kChar, 251, 0, "size", &size));
  EXPECT_EQ(size, 268435456u);
  EXPECT_FALSE(nvrtl::ReadSysfsNumber(DeviceClass::kChar, 251, 0, "align", &size));
}

}  // namespace
