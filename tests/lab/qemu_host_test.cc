// qemu_host_test.cc -- CheckQemu and CheckQemuCached on fake QEMUs (shell scripts that print a
// version and count how often they were asked).

#include "nvlab/qemu_host.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "nvlab/file_contents.h"

namespace nvlab {
namespace {
namespace fs = std::filesystem;

class QemuVersionCacheTest : public ::testing::Test {
 protected:
  QemuVersionCacheTest() {
    char templ[] = "/tmp/nvlab-qemu-host-test-XXXXXX";
    dir_ = mkdtemp(templ);
    qemu_ = (dir_ / "qemu-system-x86_64").string();
    cache_ = dir_ / "home";
  }
  ~QemuVersionCacheTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // FakeQemu writes a QEMU that prints `line` on --version, exits `status`, and counts calls.
  void FakeQemu(const std::string& line, int status = 0) {
    const std::string script = "#!/bin/sh\necho x >> '" + (dir_ / "calls").string() + "'\necho '" +
                               line + "'\nexit " + std::to_string(status) + "\n";
    ASSERT_TRUE(WriteFileContents(qemu_, script, /*executable=*/true).ok());
  }
  int Calls() const {
    std::string text;
    if (!ReadFileContents(dir_ / "calls", &text).ok()) return 0;
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }

  fs::path dir_;
  std::string qemu_;
  fs::path cache_;
};

TEST_F(QemuVersionCacheTest, AsksQemuOnceThenReadsTheCache) {
  FakeQemu("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-1~bpo12+1)");
  std::string version;
  ASSERT_TRUE(CheckQemuCached(qemu_, 10, 0, cache_, &version).ok());
  EXPECT_EQ(version, "10.0.2");
  EXPECT_EQ(Calls(), 1);
  version.clear();
  ASSERT_TRUE(CheckQemuCached(qemu_, 10, 0, cache_, &version).ok());
  EXPECT_EQ(version, "10.0.2");
  EXPECT_EQ(Calls(), 1) << "the second check reads the cache";
}

TEST_F(QemuVersionCacheTest, AnotherBinaryIsAskedAgain) {
  FakeQemu("QEMU emulator version 10.0.2");
  std::string version;
  ASSERT_TRUE(CheckQemuCached(qemu_, 10, 0, cache_, &version).ok());
  // Replaced: a new file (new inode, size), as a package upgrade does.
  fs::remove(qemu_);
  FakeQemu("QEMU emulator version 10.1.0 (upgraded)");
  ASSERT_TRUE(CheckQemuCached(qemu_, 10, 0, cache_, &version).ok());
  EXPECT_EQ(version, "10.1.0");
  EXPECT_EQ(Calls(), 2);
}

TEST_F(QemuVersionCacheTest, ADamagedCacheIsReplaced) {
  FakeQemu("QEMU emulator version 10.0.2");
  std::string version;
  ASSERT_TRUE(CheckQemuCached(qemu_, 10, 0, cache_, &version).ok());
  std::string text;
  ASSERT_TRUE(ReadFileContents(cache_ / "qemu-version", &text).ok());
  const std::string identity = text.substr(0, text.find('\n'));
  ASSERT_TRUE(WriteFileContents(cache_ / "qemu-version", identity + "\nten point oh\n").ok());
  ASSERT_TRUE(CheckQemuCached(qemu_, 10, 0, cache_, &version).ok());
  EXPECT_EQ(version, "10.0.2");
  EXPECT_EQ(Calls(), 2);
  ASSERT_TRUE(ReadFileContents(cache_ / "qemu-version", &text).ok());
  EXPECT_EQ(text, identity + "\n10.0.2\n");
}

TEST_F(QemuVersionCacheTest, TheRequirementHoldsOnACachedAnswer) {
  FakeQemu("QEMU emulator version 9.2.0");
  std::string version;
  EXPECT_EQ(CheckQemuCached(qemu_, 10, 0, cache_, &version).code(), Status::Code::kNotSupported);
  EXPECT_FALSE(fs::exists(cache_ / "qemu-version")) << "a QEMU that fails is not cached";
  // A cache entry for this very binary that claims an old version is refused too.
  std::string identity;
  FakeQemu("QEMU emulator version 10.0.2");
  ASSERT_TRUE(CheckQemuCached(qemu_, 10, 0, cache_, &version).ok());
  std::string text;
  ASSERT_TRUE(ReadFileContents(cache_ / "qemu-version", &text).ok());
  identity = text.substr(0, text.find('\n'));
  ASSERT_TRUE(WriteFileContents(cache_ / "qemu-version", identity + "\n9.2.0\n").ok());
  const Status s = CheckQemuCached(qemu_, 10, 0, cache_, &version);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported);
  EXPECT_NE(s.message().find("9.2.0"), std::string::npos) << s.ToString();
}

TEST_F(QemuVersionCacheTest, AFailingOrMissingQemuIsNotCached) {
  FakeQemu("QEMU emulator version 10.0.2", /*status=*/1);
  std::string version;
  EXPECT_FALSE(CheckQemuCached(qemu_, 10, 0, cache_, &version).ok());
  EXPECT_FALSE(fs::exists(cache_ / "qemu-version"));
  EXPECT_EQ(CheckQemuCached((dir_ / "absent").string(), 10, 0, cache_, &version).code(),
            Status::Code::kNotFound);
}

}  // namespace
}  // namespace nvlab
