// install_search_test.cc -- how the SDK finds nvlab's install: LabConfig::prefix, NVLAB_PREFIX,
// the CMake package's prefix, `nvlab` on PATH, in that order (unit, fake install trees).

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "install_search.h"
#include "nvlab/lab.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

class InstallSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/nvlab-install-search-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  // FakeInstall makes PREFIX/share/nvlab/machines and PREFIX/bin/nvlab.
  fs::path FakeInstall(const std::string& name) {
    fs::path prefix = root_ / name;  // returned: not const, so it moves
    const InstallLayout layout = InstallLayout::FromPrefix(prefix);
    fs::create_directories(layout.machines_dir);
    fs::create_directories(prefix / "bin");
    std::ofstream(prefix / "bin" / "nvlab") << "#!/bin/sh\n";
    return prefix;
  }

  fs::path root_;
};

TEST_F(InstallSearchTest, TheFirstGivenPlaceWins) {
  const fs::path a = FakeInstall("a"), b = FakeInstall("b"), c = FakeInstall("c"),
                 d = FakeInstall("d");
  InstallSearch search{a, b.string(), c, (d / "bin").string()};
  InstallLayout layout;
  std::string how;
  ASSERT_TRUE(FindInstall(search, &layout, &how).ok());
  EXPECT_EQ(layout.prefix, a);
  EXPECT_EQ(how, "LabConfig::prefix");
  search.configured.clear();
  ASSERT_TRUE(FindInstall(search, &layout, &how).ok());
  EXPECT_EQ(layout.prefix, b);
  EXPECT_EQ(how, "NVLAB_PREFIX");
  search.env_prefix.clear();
  ASSERT_TRUE(FindInstall(search, &layout, &how).ok());
  EXPECT_EQ(layout.prefix, c);
  EXPECT_EQ(layout.plugin, InstallLayout::FromPrefix(c).plugin);
  search.package_prefix.clear();
  ASSERT_TRUE(FindInstall(search, &layout, &how).ok());
  EXPECT_EQ(layout.prefix, d);
  EXPECT_EQ(how, "nvlab on PATH");
}

TEST_F(InstallSearchTest, AWrongGivenPrefixIsAnErrorNotSkipped) {
  const fs::path good = FakeInstall("good");
  InstallSearch search{root_ / "nowhere", "", good, ""};
  InstallLayout layout;
  std::string how;
  const Status s = FindInstall(search, &layout, &how);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("nowhere"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("LabConfig::prefix"), std::string::npos) << s.message();
}

TEST_F(InstallSearchTest, PathIsSearchedInOrderThroughSymlinks) {
  const fs::path real = FakeInstall("real");
  fs::create_directories(root_ / "links");
  fs::create_symlink(real / "bin" / "nvlab", root_ / "links" / "nvlab");
  InstallSearch search;
  search.path_env = (root_ / "empty").string() + "::" + (root_ / "links").string();
  InstallLayout layout;
  std::string how;
  ASSERT_TRUE(FindInstall(search, &layout, &how).ok());
  EXPECT_EQ(layout.prefix, real);
}

TEST_F(InstallSearchTest, NothingFoundSaysWhatToDo) {
  InstallSearch search;
  search.path_env = (root_ / "empty").string();
  InstallLayout layout;
  std::string how;
  const Status s = FindInstall(search, &layout, &how);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("NVLAB_PREFIX"), std::string::npos) << s.message();
}

TEST_F(InstallSearchTest, LabCreateUsesThePackagePrefixAndStartsNothing) {
  const fs::path prefix = FakeInstall("pkg");
  (void)unsetenv("NVLAB_PREFIX");
  std::unique_ptr<Lab> lab;
  ASSERT_TRUE(Lab::CreateWithPackagePrefix(LabConfig(), prefix, &lab).ok());
  EXPECT_EQ(lab->prefix(), prefix);
  EXPECT_EQ(lab->config().prefix, prefix);
  LabConfig bad;
  bad.on_cut = "never";
  EXPECT_EQ(Lab::CreateWithPackagePrefix(bad, prefix, &lab).code(), Status::Code::kInvalidArgument);
}

// Without the CMake package's definition (this build tree), PackagePrefix is empty.
TEST(PackagePrefixTest, EmptyWithoutThePackage) {
  EXPECT_TRUE(PackagePrefix().empty());
}

}  // namespace
}  // namespace nvlab
