// nvdimm_start_test.cc -- NvdimmStartIsBlank: an NVDIMM file is blank when the first 8 KiB, where
// a namespace's claim keeps its info block, are zero; a byte anywhere in them makes it not, a
// byte past them does not; a file it cannot read whole is an error, never "blank".

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "nvlab/nvdimm_file.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

class NvdimmStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "nvdimm-start-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // File makes a zeroed NVDIMM file of 2 MiB with one byte `value` at `offset` (none if < 0).
  fs::path File(long offset, char value = 1) {
    fs::path path = dir_ / ("nv" + std::to_string(files_++) + ".img");
    bool created = false;
    EXPECT_TRUE(PrepareNvdimmFile(path, 2u << 20, &created).ok());
    if (offset >= 0) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(offset);
      f.put(value);
    }
    return path;
  }
  bool Blank(const fs::path& path) {
    bool blank = true;
    const Status s = NvdimmStartIsBlank(path, &blank);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return blank;
  }
  fs::path dir_;
  int files_ = 0;
};

TEST_F(NvdimmStartTest, AZeroedFileIsBlank) {
  EXPECT_TRUE(Blank(File(-1)));
}

TEST_F(NvdimmStartTest, AnyByteOfTheFirst8KiBMakesItNotBlank) {
  for (const long offset : {0L, 4095L, 4096L, 8191L}) {
    EXPECT_FALSE(Blank(File(offset))) << offset;
  }
  EXPECT_FALSE(Blank(File(100, static_cast<char>(0x80)))) << "a byte with the sign bit";
}

TEST_F(NvdimmStartTest, BytesPastTheClaimsInfoBlockDoNotCount) {
  EXPECT_TRUE(Blank(File(static_cast<long>(kNvdimmClaimBytes))));
  EXPECT_TRUE(Blank(File(1L << 20)));
}

TEST_F(NvdimmStartTest, AFileItCannotReadWholeIsAnErrorNotBlank) {
  const fs::path missing = dir_ / "missing.img";
  bool blank = true;
  Status s = NvdimmStartIsBlank(missing, &blank);
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_FALSE(blank);
  EXPECT_NE(s.message().find("missing.img"), std::string::npos) << s.ToString();

  const fs::path shorter = dir_ / "short.img";
  std::ofstream(shorter) << std::string(100, '\0');
  blank = true;
  s = NvdimmStartIsBlank(shorter, &blank);
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_FALSE(blank);
  EXPECT_NE(s.message().find("shorter than 8192 bytes"), std::string::npos) << s.ToString();

  blank = true;
  s = NvdimmStartIsBlank(dir_, &blank);  // a folder: read fails
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(blank);
}

}  // namespace
}  // namespace nvlab
