// nvdimm_setup_test.cc -- ParseNvdimmSettings and NvdimmEnvironment (the setup itself runs in
// every guest of the tcg suites).

#include "nvlab/agent/nvdimm_setup.h"
#include "nvlab/agent/nvdimm_mounts.h"

#include <gtest/gtest.h>

namespace nvlab::agent {
namespace {

TEST(NvdimmSettingsTest, ParsesWhatTheResumeRequestAndInitSend) {
  NvdimmSettings s;
  ASSERT_TRUE(ParseNvdimmSettings("fsdax", "xfs", "3", "1", &s).ok());
  EXPECT_EQ(s.mode, NamespaceMode::kFsdax);
  EXPECT_EQ(s.fs, "xfs");
  EXPECT_EQ(s.nvdimms, 3);
  EXPECT_TRUE(s.share);
  ASSERT_TRUE(ParseNvdimmSettings("raw", "ext4", "64", "0", &s).ok());
  EXPECT_EQ(s.mode, NamespaceMode::kRaw);
  EXPECT_EQ(s.nvdimms, 64);
  EXPECT_FALSE(s.share);
  ASSERT_TRUE(ParseNvdimmSettings("devdax", "ext4", "1", "0", &s).ok());
  EXPECT_EQ(s.mode, NamespaceMode::kDevdax);
}

TEST(NvdimmSettingsTest, RefusesAnythingElseAndLeavesTheSettingsAlone) {
  struct Bad {
    const char *ns, *fs, *nvdimms, *share, *expect;
  };
  for (const Bad& b : {Bad{"sector", "ext4", "1", "0", "namespace mode sector"},
                       Bad{"memory", "ext4", "1", "0", "namespace mode memory"},
                       Bad{"dax", "ext4", "1", "0", "namespace mode dax"},
                       Bad{"", "ext4", "1", "0", "namespace mode"},
                       Bad{"fsdax", "btrfs", "1", "0", "file system btrfs"},
                       Bad{"fsdax", "ext4", "0", "0", "NVDIMM count 0"},
                       Bad{"fsdax", "ext4", "65", "0", "NVDIMM count 65"},
                       Bad{"fsdax", "ext4", "100", "0", "NVDIMM count 100"},
                       Bad{"fsdax", "ext4", "-1", "0", "NVDIMM count -1"},
                       Bad{"fsdax", "ext4", "", "0", "NVDIMM count"},
                       Bad{"fsdax", "ext4", "1x", "0", "NVDIMM count 1x"},
                       Bad{"fsdax", "ext4", "1", "yes", "share yes"}}) {
    NvdimmSettings s;
    s.nvdimms = 7;
    const Status status = ParseNvdimmSettings(b.ns, b.fs, b.nvdimms, b.share, &s);
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument) << b.expect;
    EXPECT_NE(status.message().find(b.expect), std::string::npos) << status.ToString();
    EXPECT_EQ(s.nvdimms, 7);
  }
}

TEST(NvdimmEnvironmentTest, EachPathThenTheFirstThenAll) {
  EXPECT_EQ(NvdimmEnvironment({"/dev/dax0.0", "/dev/dax1.0"}),
            "NVLAB_PMEM0=/dev/dax0.0\nNVLAB_PMEM1=/dev/dax1.0\nNVLAB_PMEM=/dev/dax0.0\n"
            "NVLAB_PMEM_ALL=/dev/dax0.0 /dev/dax1.0\n");
  EXPECT_EQ(NvdimmEnvironment({"/mnt/pmem0"}),
            "NVLAB_PMEM0=/mnt/pmem0\nNVLAB_PMEM=/mnt/pmem0\nNVLAB_PMEM_ALL=/mnt/pmem0\n");
}

}  // namespace
}  // namespace nvlab::agent

// ParseNvdimmMounts finds the file systems on NVDIMM block devices that detach-nvdimms unmounts.

namespace nvlab::agent {
namespace {

TEST(NvdimmMountsTest, FindsTheMountsOfPmemDevicesInOrder) {
  const std::string mounts =
      "rootfs / rootfs rw 0 0\n"
      "/dev/pmem0 /mnt/pmem0 ext4 rw,relatime,dax=always 0 0\n"
      "nvlab_share /host 9p rw 0 0\n"
      "/dev/pmem1s /mnt/pmem1 xfs rw 0 0\n"
      "/dev/pmem2 /mnt/odd\\040name ext4 rw 0 0\n"
      "/dev/pmem3\n";
  const std::vector<NvdimmMount> found = ParseNvdimmMounts(mounts);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], (NvdimmMount{"/dev/pmem0", "/mnt/pmem0", "ext4"}));
  EXPECT_EQ(found[1], (NvdimmMount{"/dev/pmem1s", "/mnt/pmem1", "xfs"}));
  EXPECT_TRUE(ParseNvdimmMounts("").empty());
}

}  // namespace
}  // namespace nvlab::agent
