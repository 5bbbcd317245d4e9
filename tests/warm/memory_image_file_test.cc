// memory_image_file_test.cc -- CopyMemoryImage and MemoryImageChecksum: exact copies that keep
// holes, and a checksum that any change to the content changes.

#include "nvlab/memory_image_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "file_text.h"
#include "nvlab_process.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

class MemoryImageFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir(); }
  void TearDown() override { fs::remove_all(dir_); }

  // MakeImage creates a sparse file of `size` bytes with `data` written at each offset.
  fs::path MakeImage(const std::string& name, uint64_t size,
                     const std::vector<std::pair<uint64_t, std::string>>& data) {
    fs::path path = dir_ / name;
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    for (const auto& [offset, bytes] : data) {
      EXPECT_EQ(pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
                static_cast<ssize_t>(bytes.size()));
    }
    close(fd);
    return path;
  }

  static uint64_t Checksum(const fs::path& path) {
    uint64_t sum = 0;
    const Status s = MemoryImageChecksum(path, &sum);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return sum;
  }

  static uint64_t AllocatedBytes(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

  fs::path dir_;
};

TEST_F(MemoryImageFileTest, CopiesTheContentExactlyAndKeepsHoles) {
  // Data at the start, in the middle across a block boundary, and in a last partial block.
  const uint64_t size = 16 * kMiB + 100;
  const fs::path from =
      MakeImage("from", size,
                {{0, "first"}, {5 * kMiB + 4090, std::string(20, 'x')}, {16 * kMiB + 50, "tail"}});
  uint64_t checksum = 0;
  const fs::path to = dir_ / "to";
  ASSERT_TRUE(CopyMemoryImage(from, to, &checksum).ok());
  EXPECT_EQ(fs::file_size(to), size);
  EXPECT_EQ(testing::FileText(to), testing::FileText(from));
  EXPECT_EQ(checksum, Checksum(from));
  EXPECT_EQ(Checksum(to), checksum);
  EXPECT_LE(AllocatedBytes(to), 64 * 1024u) << "only the blocks with data are written";
}

TEST_F(MemoryImageFileTest, ACopyReplacesWhatWasThere) {
  const fs::path from = MakeImage("from", kMiB, {{4096, "new"}});
  const fs::path to = MakeImage("to", 3 * kMiB, {{0, "old content"}, {2 * kMiB, "more"}});
  uint64_t checksum = 0;
  ASSERT_TRUE(CopyMemoryImage(from, to, &checksum).ok());
  EXPECT_EQ(testing::FileText(to), testing::FileText(from));
}

TEST_F(MemoryImageFileTest, HolesAndZeroBlocksChecksumAlike) {
  const fs::path sparse = MakeImage("sparse", 4 * kMiB, {{kMiB, "data"}});
  const fs::path dense =
      MakeImage("dense", 4 * kMiB, {{0, std::string(4 * kMiB, '\0')}, {kMiB, "data"}});
  EXPECT_EQ(Checksum(sparse), Checksum(dense));
}

TEST_F(MemoryImageFileTest, AnyChangedByteOrSizeChangesTheChecksum) {
  const uint64_t size = 8 * kMiB;
  const std::string block(4096, 'a');
  const uint64_t base = Checksum(MakeImage("base", size, {{kMiB, block}}));
  for (uint64_t at : {uint64_t{0}, kMiB, kMiB + 1, kMiB + 4095, 7 * kMiB + 123}) {
    const fs::path path = MakeImage("changed", size, {{kMiB, block}, {at, "b"}});
    EXPECT_NE(Checksum(path), base) << "byte at " << at;
  }
  // The same data a block further on.
  EXPECT_NE(Checksum(MakeImage("moved", size, {{kMiB + 4096, block}})), base);
  // A shorter file with the same data (a truncated image).
  EXPECT_NE(Checksum(MakeImage("short", size - 4096, {{kMiB, block}})), base);
}

TEST_F(MemoryImageFileTest, AMissingSourceOrUnwritableTargetIsAnError) {
  uint64_t checksum = 0;
  EXPECT_FALSE(CopyMemoryImage(dir_ / "nothing", dir_ / "to", &checksum).ok());
  EXPECT_FALSE(MemoryImageChecksum(dir_ / "nothing", &checksum).ok());
  const fs::path from = MakeImage("from", kMiB, {{0, "x"}});
  EXPECT_FALSE(CopyMemoryImage(from, dir_ / "no-such-folder" / "to", &checksum).ok());
}

}  // namespace
}  // namespace nvlab
