// install_test.cc -- the installed library works for its two kinds of users: a static C program
// built with pkg-config (the guest's case) and a CMake project using find_package(nvrtl).
// Installs the nvrtl component of this build tree into a temporary prefix.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

int Shell(const std::string& command) {
  const int raw = std::system(command.c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

class InstallTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/nvrtl-install-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    prefix_ = pattern;
    install_status_ = Shell(std::string(NVRTL_CMAKE_COMMAND) +
                            " --install " NVRTL_BUILD_DIR " --component nvrtl --prefix " +
                            prefix_.string() + " >" + (prefix_ / "install.log").string() + " 2>&1");
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(prefix_, ignored);
  }
  static std::string PkgConfigPath() {
    for (const auto& entry : fs::recursive_directory_iterator(prefix_)) {
      if (entry.path().filename() == "nvrtl.pc") return entry.path().parent_path().string();
    }
    return "";
  }
  static fs::path prefix_;
  static int install_status_;
};

fs::path InstallTest::prefix_;
int InstallTest::install_status_ = -1;

TEST_F(InstallTest, InstallsHeaderLibrariesPackageAndPkgConfig) {
  ASSERT_EQ(install_status_, 0);
  EXPECT_TRUE(fs::exists(prefix_ / "include/nvrtl/nvrtl.h"));
  EXPECT_TRUE(fs::exists(prefix_ / "include/nvrtl/nvlab_power_cut.h"));
  const std::string pc_dir = PkgConfigPath();
  ASSERT_FALSE(pc_dir.empty());
  const fs::path libdir = fs::path(pc_dir).parent_path();
  EXPECT_TRUE(fs::exists(libdir / "libnvrtl.a"));
  EXPECT_TRUE(fs::exists(libdir / "libnvrtl.so"));
  EXPECT_TRUE(fs::exists(libdir / "cmake/nvrtl/nvrtlConfig.cmake"));
  const std::string out = (prefix_ / "libdir.txt").string();
  ASSERT_EQ(Shell("PKG_CONFIG_PATH=" + pc_dir + " pkg-config --variable=libdir nvrtl >" + out), 0);
  std::string reported;
  std::getline(std::ifstream(out), reported);
  EXPECT_EQ(fs::canonical(reported), fs::canonical(libdir));
}

TEST_F(InstallTest, StaticCProgramLinksWithPkgConfigStaticLibs) {
  ASSERT_EQ(install_status_, 0);
  const std::string pc_dir = PkgConfigPath();
  const std::string exe = (prefix_ / "prog-static").string();
  const std::string command = "cd " + prefix_.string() + " && PKG_CONFIG_PATH=" + pc_dir +
                              " sh -c 'cc -static " NVRTL_CONSUMER_DIR "/main.c -o " + exe +
                              " $(pkg-config --cflags --static --libs nvrtl)' >link.log 2>&1";
  ASSERT_EQ(Shell(command), 0) << "see " << prefix_ / "link.log";
  EXPECT_EQ(Shell(exe), 0);
  EXPECT_EQ(Shell("file " + exe + " | grep -q 'statically linked'"), 0);
}

TEST_F(InstallTest, CMakeConsumerFindsBothTargets) {
  ASSERT_EQ(install_status_, 0);
  const fs::path build = prefix_ / "consumer-build";
  const std::string cmake = NVRTL_CMAKE_COMMAND;
  ASSERT_EQ(Shell(cmake + " -S " NVRTL_CONSUMER_DIR " -B " + build.string() +
                  " -DCMAKE_PREFIX_PATH=" + prefix_.string() + " >" +
                  (prefix_ / "consumer.log").string() + " 2>&1"),
            0);
  ASSERT_EQ(Shell(cmake + " --build " + build.string() + " >>" +
                  (prefix_ / "consumer.log").string() + " 2>&1"),
            0);
  EXPECT_EQ(Shell((build / "consumer_static").string()), 0);
  // The shared build finds libnvrtl.so through the install tree's RUNPATH or LD_LIBRARY_PATH.
  const std::string libdir = fs::path(PkgConfigPath()).parent_path().string();
  EXPECT_EQ(Shell("LD_LIBRARY_PATH=" + libdir + " " + (build / "consumer_shared").string()), 0);
}

}  // namespace
