// deb_package_test.cc -- the Debian package (cmake/Packaging.cmake), as the fixture
// DebPackage.Build made it from this build tree: its control fields, that it holds every file
// `cmake --install` installs, that this machine satisfies its Depends, and that nvlab unpacked
// from it into a throwaway root runs `--version` and the demo.
//
// "Installed" here is `dpkg-deb -x` into a temporary folder: unpacking puts the same files in
// the same places as `dpkg -i` would, without touching this machine's /usr or its dpkg
// database; what it skips are the maintainer scripts, which only run ldconfig (for libnvrtl,
// which nvlab does not load). Whether `dpkg -i` would accept the
// dependencies is checked apart, with `apt-get install --simulate` on the real system.

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "command_run.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using testing::CommandRun;
using testing::DescribeRun;
using testing::RunCommand;

const fs::path kPackageDir = NVLAB_PACKAGE_DIR;
const fs::path kStageDir = NVLAB_STAGE_DIR;

// Field reads one control field of the package (dpkg-deb --field).
std::string Field(const fs::path& deb, const std::string& name) {
  const CommandRun run = RunCommand({"dpkg-deb", "--field", deb.string(), name});
  EXPECT_EQ(run.exit_status, 0) << DescribeRun(run);
  std::string value = run.out;
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

// PackagedFiles lists the package's files and links as absolute paths ("/usr/bin/nvlab"),
// without folders.
std::set<std::string> PackagedFiles(const fs::path& deb) {
  const CommandRun run = RunCommand({"dpkg-deb", "--contents", deb.string()});
  EXPECT_EQ(run.exit_status, 0) << DescribeRun(run);
  std::set<std::string> files;
  std::istringstream lines(run.out);
  std::string line;
  while (std::getline(lines, line)) {
    // "-rwxr-xr-x root/root  12345 2026-12-06 04:00 ./usr/bin/nvlab" (links: "... -> target")
    if (line.empty() || line[0] == 'd') continue;
    const size_t dot = line.find(" ./");
    if (dot == std::string::npos) continue;
    std::string path = line.substr(dot + 2);
    const size_t arrow = path.find(" -> ");
    if (arrow != std::string::npos) path.resize(arrow);
    files.insert(path);
  }
  return files;
}

// InstalledFiles lists what `cmake --install` puts under /usr (into a DESTDIR), every component.
std::set<std::string> InstalledFiles(const fs::path& destdir) {
  const CommandRun run =
      RunCommand({NVLAB_CMAKE_COMMAND, "--install", NVLAB_BUILD_DIR, "--prefix", "/usr"},
                 {"DESTDIR=" + destdir.string()});
  EXPECT_EQ(run.exit_status, 0) << DescribeRun(run);
  std::set<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(destdir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory() && !it->is_symlink()) continue;
    files.insert("/" + fs::relative(it->path(), destdir).string());
  }
  return files;
}

class DebPackage : public ::testing::Test {
 protected:
  void SetUp() override {
    deb_ = testing::TheDebPackage(kPackageDir);
    ASSERT_FALSE(deb_.empty()) << "no single .deb in " << kPackageDir
                               << " (the fixture test DebPackage.Build makes it)";
    char templ[] = "/tmp/nvlab-deb-test-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    scratch_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    if (!scratch_.empty()) fs::remove_all(scratch_, ec);
  }

  fs::path deb_;
  fs::path scratch_;
};

TEST_F(DebPackage, ControlFieldsNameItsVersionDependenciesAndMaintainer) {
  EXPECT_EQ(Field(deb_, "Package"), "nvlab");
  EXPECT_EQ(Field(deb_, "Version"), NVLAB_VERSION);
  const CommandRun arch = RunCommand({"dpkg", "--print-architecture"});
  EXPECT_EQ(Field(deb_, "Architecture") + "\n", arch.out);
  EXPECT_NE(Field(deb_, "Maintainer").find('@'), std::string::npos);
  EXPECT_NE(Field(deb_, "Description").find("persistent memory"), std::string::npos);
  const std::string depends = Field(deb_, "Depends");
  // Listed by cmake/Packaging.cmake: QEMU 10 and the image builder's host tools.
  for (const char* wanted : {"qemu-system-x86 (>= 1:10.0)", "apt", "kmod", "xz-utils", "zstd"}) {
    EXPECT_NE(depends.find(wanted), std::string::npos) << wanted << " not in " << depends;
  }
  // Found by dpkg-shlibdeps in nvlab's own ELF files.
  for (const char* wanted : {"libc6", "libstdc++6", "libxml2"}) {
    EXPECT_NE(depends.find(wanted), std::string::npos) << wanted << " not in " << depends;
  }
  // libvirt is opened with dlopen for --domain only: recommended, not depended on.
  EXPECT_EQ(depends.find("libvirt"), std::string::npos) << depends;
  const std::string recommends = Field(deb_, "Recommends");
  for (const char* wanted : {"libvirt0", "libvirt-daemon-system", "libvirt-clients"}) {
    EXPECT_NE(recommends.find(wanted), std::string::npos) << wanted << " not in " << recommends;
  }
}

TEST_F(DebPackage, HoldsEveryFileCmakeInstallInstalls) {
  const std::set<std::string> packaged = PackagedFiles(deb_);
  const std::set<std::string> installed = InstalledFiles(scratch_ / "destdir");
  ASSERT_FALSE(installed.empty());
  for (const std::string& file : installed) {
    EXPECT_TRUE(packaged.count(file)) << file << " is installed but not packaged";
  }
  // The layout docs/design/interfaces.md promises, named so that a rule lost from both the
  // install and the package still fails here.
  const std::string lib = std::string("/usr/") + NVLAB_INSTALL_LIBDIR;
  for (const std::string& file :
       {std::string("/usr/bin/nvlab"), std::string("/usr/libexec/nvlab/nvlab-plugin.so"),
        std::string("/usr/libexec/nvlab/nvlab-qemu"),
        std::string("/usr/libexec/nvlab/guest/nvlab-agent"),
        std::string("/usr/libexec/nvlab/guest/nvlab-powercut"),
        std::string("/usr/libexec/nvlab/guest/nvlab-records"),
        std::string("/usr/share/nvlab/guest/init"),
        std::string("/usr/share/nvlab/machines/default.machine"),
        std::string("/usr/include/nvrtl/nvrtl.h"), lib + "/libnvrtl.so", lib + "/libnvrtl.a",
        lib + "/pkgconfig/nvrtl.pc", lib + "/cmake/nvrtl/nvrtlConfig.cmake"}) {
    EXPECT_TRUE(packaged.count(file)) << file << " is not in the package";
  }
}

TEST_F(DebPackage, ThisMachineSatisfiesItsDependencies) {
  // apt resolves the Depends against the installed packages and the apt lists; --simulate
  // changes nothing. Root is needed for apt's lock; CI runs as root.
  if (geteuid() != 0) GTEST_SKIP() << "apt-get --simulate needs root";
  const CommandRun run =
      RunCommand({"apt-get", "install", "--simulate", "--no-install-recommends", deb_.string()});
  ASSERT_EQ(run.exit_status, 0) << DescribeRun(run);
  // Only nvlab itself is to be installed: every dependency is here already.
  std::istringstream lines(run.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("Inst ")) {
      EXPECT_TRUE(line.starts_with("Inst nvlab ")) << line;
    }
  }
  EXPECT_NE(run.out.find("Inst nvlab "), std::string::npos) << DescribeRun(run);
}

// TableRows are the rows below the demo table's header ("pattern ADR eADR ..."), each split
// into words.
std::vector<std::vector<std::string>> TableRows(const std::string& demo_stdout) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(demo_stdout);
  std::string line;
  bool header_seen = false;
  while (std::getline(lines, line)) {
    if (!header_seen) {
      header_seen = line.starts_with("pattern ");
      continue;
    }
    if (line.empty()) continue;
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string word; words >> word;) row.push_back(word);
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST_F(DebPackage, UnpackedIntoAThrowawayRootRunsVersionAndTheDemo) {
  const fs::path root = scratch_ / "root";
  const CommandRun unpack = RunCommand({"dpkg-deb", "-x", deb_.string(), root.string()});
  ASSERT_EQ(unpack.exit_status, 0) << DescribeRun(unpack);
  const fs::path nvlab = root / "usr/bin/nvlab";

  const CommandRun version = RunCommand({nvlab.string(), "--version"});
  ASSERT_EQ(version.exit_status, 0) << DescribeRun(version);
  EXPECT_EQ(version.out, std::string("nvlab ") + NVLAB_VERSION + "\n");

  // The guest image's key covers the guest tools' and init's contents, so the packaged ones
  // being the staged ones byte for byte is what lets the installed nvlab use the image the
  // build tree's nvlab built (NVLAB_HOME, fixture nvlab_image) instead of building another.
  for (const char* file : {"libexec/nvlab/guest/nvlab-agent", "libexec/nvlab/guest/nvlab-records",
                           "libexec/nvlab/guest/nvlab-powercut", "share/nvlab/guest/init"}) {
    const CommandRun same =
        RunCommand({"cmp", (kStageDir / file).string(), (root / "usr" / file).string()});
    EXPECT_EQ(same.exit_status, 0) << file << ": " << DescribeRun(same);
  }

  const CommandRun demo = RunCommand({nvlab.string(), "demo"});
  ASSERT_EQ(demo.exit_status, 0) << DescribeRun(demo);
  const std::vector<std::vector<std::string>> rows = TableRows(demo.out);
  ASSERT_FALSE(rows.empty()) << DescribeRun(demo);
  // The first row: flushed and drained, kept on both platforms.
  ASSERT_GE(rows[0].size(), 3u) << DescribeRun(demo);
  EXPECT_EQ(rows[0][0], "flush-drain") << DescribeRun(demo);
  EXPECT_EQ(rows[0][1], "yes") << DescribeRun(demo);
  EXPECT_EQ(rows[0][2], "yes") << DescribeRun(demo);
  // And the packaged plugin decides: never flushed is lost on ADR, kept on eADR.
  bool noflush_seen = false;
  for (const std::vector<std::string>& row : rows) {
    if (row.size() < 3 || row[0] != "noflush") continue;
    noflush_seen = true;
    EXPECT_EQ(row[1], "no") << DescribeRun(demo);
    EXPECT_EQ(row[2], "yes") << DescribeRun(demo);
  }
  EXPECT_TRUE(noflush_seen) << DescribeRun(demo);
}

}  // namespace
}  // namespace nvlab
