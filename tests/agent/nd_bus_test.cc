// nd_bus_test.cc -- NdBus over a fake /sys/bus/nd, and its pure helpers. Binding needs a kernel:
// the guests of the tcg suites exercise every Reconfigure path for real (devdax, fsdax, raw, a
// mode change on an existing NVDIMM image).

#include "nvlab/agent/nd_bus.h"

#include <unistd.h>

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "fake_tree.h"

namespace nvlab::agent {
namespace {

using nvlab::testing::FakeTree;

TEST(NamespaceModeTest, ParsesTheKernelsOldAndNewNames) {
  EXPECT_EQ(ParseNamespaceMode("raw"), NamespaceMode::kRaw);
  EXPECT_EQ(ParseNamespaceMode("memory"), NamespaceMode::kFsdax);
  EXPECT_EQ(ParseNamespaceMode("fsdax"), NamespaceMode::kFsdax);
  EXPECT_EQ(ParseNamespaceMode("dax"), NamespaceMode::kDevdax);
  EXPECT_EQ(ParseNamespaceMode("devdax"), NamespaceMode::kDevdax);
  EXPECT_EQ(ParseNamespaceMode("safe"), NamespaceMode::kSector);
  EXPECT_EQ(ParseNamespaceMode("sector"), NamespaceMode::kSector);
  EXPECT_EQ(ParseNamespaceMode(""), std::nullopt);
  EXPECT_EQ(ParseNamespaceMode("raw\n"), std::nullopt);
  EXPECT_EQ(ParseNamespaceMode("RAW"), std::nullopt);
  for (NamespaceMode m : {NamespaceMode::kRaw, NamespaceMode::kFsdax, NamespaceMode::kDevdax,
                          NamespaceMode::kSector}) {
    EXPECT_EQ(ParseNamespaceMode(ToString(m)), m);
  }
}

TEST(FormatUuidTest, EightFourFourFourTwelveLowercase) {
  const unsigned char bytes[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                   0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
  EXPECT_EQ(FormatUuid(bytes), "01234567-89ab-cdef-fedc-ba9876543210");
}

class NdBusTest : public ::testing::Test {
 protected:
  NdBusTest() : bus_(tree_.Path("sys"), tree_.Path("dev")) {}
  void Device(const std::string& name, const std::string& file, const std::string& text) {
    tree_.Write("sys/bus/nd/devices/" + name + "/" + file, text);
  }
  FakeTree tree_;
  NdBus bus_;
};

TEST_F(NdBusTest, PmemRegionsAreThoseWithANamespaceSeedInNumericOrder) {
  Device("region12", "namespace_seed", "namespace12.0\n");
  Device("region2", "namespace_seed", "namespace2.0\n");
  Device("region3", "size", "0\n");  // a region without namespaces (a BLK region)
  Device("regionx", "namespace_seed", "\n");
  Device("region", "namespace_seed", "\n");
  Device("ndbus0", "wait_probe", "0\n");
  EXPECT_EQ(bus_.PmemRegions(), (std::vector<int>{2, 12}));
}

TEST_F(NdBusTest, NoBusNoRegions) {
  EXPECT_TRUE(bus_.PmemRegions().empty());
}

TEST_F(NdBusTest, WaitForProbesReadsEveryBus) {
  Device("ndbus0", "wait_probe", "0\n");
  Device("ndbus1", "wait_probe", "0\n");
  EXPECT_TRUE(bus_.WaitForProbes().ok());
  tree_.MakeDirectory("sys/bus/nd/devices/ndbus2");  // a bus without wait_probe: an error
  const Status s = bus_.WaitForProbes();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ndbus2/wait_probe"), std::string::npos) << s.ToString();
}

TEST_F(NdBusTest, ReadModeAndHolder) {
  Device("namespace0.0", "mode", "dax\n");
  Device("namespace0.0", "holder", "dax0.0\n");
  Device("namespace1.0", "mode", "weird\n");
  Device("namespace1.0", "holder", "\n");
  NamespaceMode mode = NamespaceMode::kRaw;
  ASSERT_TRUE(bus_.ReadMode("namespace0.0", &mode).ok());
  EXPECT_EQ(mode, NamespaceMode::kDevdax);
  EXPECT_EQ(bus_.Holder("namespace0.0"), "dax0.0");
  const Status s = bus_.ReadMode("namespace1.0", &mode);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported);
  EXPECT_NE(s.message().find("weird"), std::string::npos);
  EXPECT_EQ(bus_.Holder("namespace1.0"), "");
  EXPECT_EQ(bus_.Holder("namespace9.0"), "");
  EXPECT_FALSE(bus_.ReadMode("namespace9.0", &mode).ok());
  EXPECT_TRUE(bus_.Exists("namespace0.0"));
  EXPECT_FALSE(bus_.Exists("namespace9.0"));
}

TEST_F(NdBusTest, BlockAndDaxDevicesAreFoundUnderTheirParent) {
  tree_.MakeDirectory("sys/bus/nd/devices/pfn0.1/block/pmem0");
  tree_.MakeDirectory("sys/bus/nd/devices/dax1.0/dax1.0");
  Device("dax1.0", "mode", "ram\n");
  tree_.MakeDirectory("sys/bus/nd/devices/dax2.0/daxfoo");
  EXPECT_EQ(bus_.BlockDevice("pfn0.1"), tree_.Path("dev") + "/pmem0");
  EXPECT_EQ(bus_.BlockDevice("pfn0.2"), "");
  EXPECT_EQ(bus_.DaxDevice("dax1.0"), tree_.Path("dev") + "/dax1.0");
  EXPECT_EQ(bus_.DaxDevice("dax2.0"), "");
}

TEST_F(NdBusTest, ReconfigureRefusesSectorMode) {
  EXPECT_EQ(bus_.Reconfigure(0, "namespace0.0", NamespaceMode::kSector, "u").code(),
            Status::Code::kNotSupported);
}

TEST_F(NdBusTest, ReconfigureReleasesTheClaimAndSaysWhichDeviceDidNotComeUp) {
  // A fake bus: files take the writes, but nothing binds (no kernel behind drivers_probe). The
  // files start empty: a write does not truncate, as in sysfs, where each write is one request.
  Device("namespace0.0", "mode", "memory\n");
  Device("namespace0.0", "holder", "pfn0.0\n");
  Device("namespace0.0", "force_raw", "");
  Device("namespace0.0", "holder_class", "");
  Device("pfn0.0", "namespace", "");
  tree_.Write("sys/bus/nd/drivers_probe", "");
  const Status s = bus_.Reconfigure(0, "namespace0.0", NamespaceMode::kDevdax,
                                    "01234567-89ab-cdef-fedc-ba9876543210");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("namespace0.0 did not come up"), std::string::npos) << s.ToString();
  EXPECT_EQ(tree_.Read("sys/bus/nd/devices/pfn0.0/namespace"), "\n") << "the claim is released";
  EXPECT_EQ(tree_.Read("sys/bus/nd/drivers_probe"), "namespace0.0");
  EXPECT_EQ(tree_.Read("sys/bus/nd/devices/namespace0.0/force_raw"), "0")
      << "force_raw is put back after a failure";
}

TEST_F(NdBusTest, RegionStartReadsTheResourceAddressStrictly) {
  Device("region0", "resource", "0x100000000\n");
  Device("region1", "resource", "4294967296\n");  // decimal: not what the kernel writes
  Device("region2", "resource", "0x\n");
  Device("region3", "resource", "0x1000zz\n");
  Device("region4", "resource", "0x10000000000000000\n");  // 65 bits
  uint64_t start = 7;
  ASSERT_TRUE(bus_.RegionStart(0, &start).ok());
  EXPECT_EQ(start, 0x100000000u);
  for (const int region : {1, 2, 3, 4, 5}) {
    start = 7;
    const Status s = bus_.RegionStart(region, &start);
    EXPECT_FALSE(s.ok()) << region;
    EXPECT_NE(s.message().find("region" + std::to_string(region) + "/resource"), std::string::npos)
        << s.ToString();
    EXPECT_EQ(start, 7u) << region;
  }
}

// A region as the kernel shows it before nd_pmem is loaded: an unbound namespace and the seeds.
class BlankClaimTest : public NdBusTest {
 protected:
  void SetUp() override {
    Device("region0", "resource", "0x100000000\n");
    Device("region0", "pfn_seed", "pfn0.1\n");
    Device("region0", "dax_seed", "dax0.1\n");
    Device("namespace0.0", "holder_class", "");
    for (const char* seed : {"pfn0.1", "dax0.1"}) {
      for (const char* file : {"uuid", "mode", "namespace"}) Device(seed, file, "");
      Device(seed, "align", "2097152\n");
    }
    tree_.Write("sys/bus/nd/drivers_probe", "");
  }
  std::string Seed(const std::string& name, const std::string& file) {
    return tree_.Read("sys/bus/nd/devices/" + name + "/" + file);
  }
  static constexpr char kUuid[] = "01234567-89ab-4def-8edc-ba9876543210";
};

TEST_F(BlankClaimTest, ADaxClaimIsConfiguredAndBoundAtOnce) {
  tree_.MakeDirectory("sys/bus/nd/devices/dax0.1/driver");  // dax_pmem took it
  std::string claim;
  const Status s = bus_.ClaimBlank(0, "namespace0.0", NamespaceMode::kDevdax, kUuid, &claim);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(claim, "dax0.1");
  EXPECT_EQ(Seed("dax0.1", "uuid"), kUuid);
  EXPECT_EQ(Seed("dax0.1", "mode"), "ram");
  EXPECT_EQ(Seed("dax0.1", "namespace"), "namespace0.0");
  EXPECT_EQ(Seed("dax0.1", "align"), "2097152\n") << "the region starts on 2 MiB: kept";
  EXPECT_EQ(Seed("namespace0.0", "holder_class"), "dax");
  EXPECT_EQ(Seed("pfn0.1", "namespace"), "");
  EXPECT_EQ(tree_.Read("sys/bus/nd/drivers_probe"), "") << "already bound: no probe written";
}

TEST_F(BlankClaimTest, ADaxClaimThatDoesNotComeUpIsDetachedAndNamed) {
  std::string claim;
  const Status s = bus_.ClaimBlank(0, "namespace0.0", NamespaceMode::kDevdax, kUuid, &claim);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("dax0.1 did not come up"), std::string::npos) << s.ToString();
  EXPECT_EQ(tree_.Read("sys/bus/nd/drivers_probe"), "dax0.1");
  // sysfs files are not truncated by a write: the detaching "\n" lands on the first byte.
  EXPECT_EQ(Seed("dax0.1", "namespace").substr(0, 1), "\n") << "detached again";
}

TEST_F(BlankClaimTest, APfnClaimIsConfiguredAndLeftForNdPmemThenBound) {
  Device("region0", "resource", "0x100001000\n");  // not on 2 MiB: the page size
  std::string claim;
  Status s = bus_.ClaimBlank(0, "namespace0.0", NamespaceMode::kFsdax, kUuid, &claim);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(claim, "pfn0.1");
  EXPECT_EQ(Seed("pfn0.1", "uuid"), kUuid);
  EXPECT_EQ(Seed("pfn0.1", "namespace"), "namespace0.0");
  EXPECT_TRUE(Seed("pfn0.1", "align").starts_with(std::to_string(sysconf(_SC_PAGESIZE))));
  EXPECT_EQ(Seed("namespace0.0", "holder_class"), "pfn");
  EXPECT_EQ(tree_.Read("sys/bus/nd/drivers_probe"), "") << "no driver for it before nd_pmem";
  s = bus_.BindClaim(claim);  // nd_pmem did not bind it: BindClaim tries and says so
  EXPECT_NE(s.message().find("pfn0.1 did not come up"), std::string::npos) << s.ToString();
  EXPECT_EQ(tree_.Read("sys/bus/nd/drivers_probe"), "pfn0.1");
}

TEST_F(BlankClaimTest, AnEnabledNamespaceOrAModeWithoutAClaimIsRefusedUntouched) {
  std::string claim;
  EXPECT_EQ(bus_.ClaimBlank(0, "namespace0.0", NamespaceMode::kRaw, kUuid, &claim).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(bus_.ClaimBlank(0, "namespace0.0", NamespaceMode::kSector, kUuid, &claim).code(),
            Status::Code::kInvalidArgument);
  tree_.MakeDirectory("sys/bus/nd/devices/namespace0.0/driver");  // nd_pmem enabled it raw
  const Status s = bus_.ClaimBlank(0, "namespace0.0", NamespaceMode::kDevdax, kUuid, &claim);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("namespace0.0 is enabled already"), std::string::npos) << s.ToString();
  for (const char* seed : {"pfn0.1", "dax0.1"}) {
    EXPECT_EQ(Seed(seed, "uuid"), "") << seed;
    EXPECT_EQ(Seed(seed, "namespace"), "") << seed;
  }
}

}  // namespace
}  // namespace nvlab::agent
