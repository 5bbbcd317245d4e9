// user_data_test.cc -- the data a user names, end to end in real guests (docs/design/
// reliability.md, "Data the user named"): an --nvdimm-image is one nvlab's at a time and one
// NVDIMM's, a path QEMU's option syntax would misread works with the model on and off, and a
// power cut whose NVDIMM sync failed is a lab failure.

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "nvlab/file_lock.h"
#include "nvlab/image/sha256_digest.h"
#include "nvlab/subprocess.h"
#include "nvlab_process.h"

namespace {
namespace fs = std::filesystem;
using nvlab::Deadline;
using nvlab::FileLock;
using nvlab::Status;
using nvlab::Subprocess;
using nvlab::SubprocessOptions;
using nvlab::testing::Describe;
using nvlab::testing::NvlabResult;
using nvlab::testing::RunNvlab;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// FileState is what "untouched" means: the bytes and the modification time.
struct FileState {
  std::string sha256;
  timespec mtime{};
  bool operator==(const FileState& o) const {
    return sha256 == o.sha256 && mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

FileState StateOf(const fs::path& path) {
  FileState state;
  std::uint64_t size = 0;
  EXPECT_TRUE(nvlab::image::Sha256OfFile(path, &state.sha256, &size).ok()) << path;
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  state.mtime = st.st_mtim;
  return state;
}

class UserDataTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = nvlab::testing::MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // MakeNvdimmImage lets nvlab create `image` (256 MiB, the default machine's NVDIMM).
  void MakeNvdimmImage(const fs::path& image) {
    const auto r =
        RunNvlab({"run", "--model", "off", "--nvdimm-image", image.string(), "--", "true"});
    ASSERT_EQ(r.exit_status, 0) << Describe(r);
  }
  fs::path dir_;
};

TEST_F(UserDataTest, AnNvdimmImageAnotherProcessLockedIsRefusedUntouched) {
  const fs::path image = dir_ / "nv.img";
  MakeNvdimmImage(image);
  const FileState before = StateOf(image);
  FileLock other;  // as another nvlab holds it
  ASSERT_TRUE(other.AcquireExisting(image, FileLock::Mode::kExclusive).ok());
  for (const char* model : {"on", "off"}) {
    auto r =
        RunNvlab({"run", "--model", model, "--nvdimm-image", image.string(), "--", "echo ran"});
    EXPECT_EQ(r.exit_status, 125) << Describe(r);
    EXPECT_NE(r.err.find("the NVDIMM file " + image.string() + " is in use by another nvlab"),
              std::string::npos)
        << Describe(r);
    EXPECT_EQ(r.out.find("ran"), std::string::npos) << "no guest ran: " << Describe(r);
    r = RunNvlab({"power-cycle", "--model", model, "--nvdimm-image", image.string(), "--before",
                  "true", "--after", "true"});
    EXPECT_EQ(r.exit_status, 125) << Describe(r);
    EXPECT_TRUE(StateOf(image) == before) << "the refused nvlab touched the file";
  }
}

TEST_F(UserDataTest, TwoRunsOnOneNvdimmImageTheSecondIsRefused) {
  const fs::path image = dir_ / "nv.img";
  const fs::path share = dir_ / "share";
  fs::create_directories(share);
  const fs::path out = dir_ / "first.out", err = dir_ / "first.err";
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kFile;
  options.stdout_path = out;
  options.stderr_to = SubprocessOptions::Stream::kFile;
  options.stderr_path = err;
  Subprocess first;
  // The first run holds the file until the test creates share/go.
  ASSERT_TRUE(Subprocess::Start({NVLAB_BIN, "run", "--model", "on", "--nvdimm-image",
                                 image.string(), "--share", share.string(), "--",
                                 "echo started; while [ ! -e /host/go ]; do sleep 0.2; done"},
                                options, &first)
                  .ok());
  for (int i = 0;
       i < 3000 && ReadFile(out).find("started") == std::string::npos && !first.TryReap(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(ReadFile(out).find("started"), std::string::npos) << ReadFile(err);
  const auto second =
      RunNvlab({"run", "--model", "off", "--nvdimm-image", image.string(), "--", "echo second"});
  EXPECT_EQ(second.exit_status, 125) << Describe(second);
  EXPECT_NE(second.err.find("is in use by another nvlab"), std::string::npos) << Describe(second);
  EXPECT_EQ(second.out.find("second"), std::string::npos) << Describe(second);
  std::ofstream(share / "go") << "";
  ASSERT_TRUE(first.Wait(Deadline::In(std::chrono::minutes(5))).ok());
  EXPECT_TRUE(first.Succeeded()) << first.DescribeExit() << "\n" << ReadFile(err);
  // Released with the first run: the next one gets it.
  const auto third =
      RunNvlab({"run", "--model", "off", "--nvdimm-image", image.string(), "--", "true"});
  EXPECT_EQ(third.exit_status, 0) << Describe(third);
}

TEST_F(UserDataTest, TheSameFileGivenTwiceIsRefused) {
  // Missing: the second spelling names the same path; nothing is created.
  const fs::path image = dir_ / "nv.img";
  auto r = RunNvlab({"run", "--machine", "two-nvdimms-numa", "--nvdimm-image", image.string(),
                     "--nvdimm-image", (dir_ / "." / "nv.img").string(), "--", "true"});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("names one file twice"), std::string::npos) << Describe(r);
  EXPECT_FALSE(fs::exists(image));
  // Existing: a hard link is the same device and inode under another name.
  MakeNvdimmImage(image);
  fs::create_hard_link(image, dir_ / "link.img");
  const FileState before = StateOf(image);
  r = RunNvlab({"power-cycle", "--machine", "two-nvdimms-numa", "--nvdimm-image", image.string(),
                "--nvdimm-image", (dir_ / "link.img").string(), "--before", "true", "--after",
                "true"});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("names one file twice"), std::string::npos) << Describe(r);
  EXPECT_TRUE(StateOf(image) == before);
}

TEST_F(UserDataTest, APathWithCommasEqualsAndColonsWorksWithTheModelOnAndOff) {
  const fs::path folder = dir_ / "a,b=c:d";
  fs::create_directories(folder);
  const fs::path image = folder / "nv,1=x:y.img";
  const std::string write = "nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --count 3";
  const std::string check = "nvlab-records check \"$NVLAB_PMEM\" --pattern flush-drain --count 3";
  auto r = RunNvlab({"run", "--model", "on", "--nvdimm-image", image.string(), "--", write});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  ASSERT_TRUE(fs::exists(image));
  EXPECT_EQ(fs::file_size(image), 256u << 20);
  r = RunNvlab({"run", "--model", "off", "--nvdimm-image", image.string(), "--", check});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("index=2 survived=yes"), std::string::npos) << Describe(r);
  // Both boots of a power-cycle, the model rewriting the file at the cut.
  r = RunNvlab({"power-cycle", "--model", "on", "--nvdimm-image", image.string(), "--before",
                "true", "--after", check});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("index=2 survived=yes"), std::string::npos) << Describe(r);
  r = RunNvlab({"power-cycle", "--model", "off", "--nvdimm-image", image.string(), "--before",
                check, "--after", check});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
}

TEST_F(UserDataTest, ACutWhoseNvdimmSyncFailedIsALabFailure) {
  // The plugin's test hook makes its msync/fsync count as failed (nvlab_plugin.cc).
  const std::string hook = "NVLAB_PLUGIN_TEST_SYNC_ERROR=Input/output error (forced by the test)";
  // Cut by the guest: QEMU ends on its own.
  auto r = RunNvlab({"run", "--",
                     "nvlab-records write \"$NVLAB_PMEM\" --pattern noflush "
                     "--count 1 --cut"},
                    {hook});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("power cut failed"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("Input/output error (forced by the test)"), std::string::npos)
      << Describe(r);
  EXPECT_EQ(r.err.find("cut: trigger guest"), std::string::npos) << Describe(r);
  // Cut by the host (power-cycle): the plugin answers an error.
  r = RunNvlab({"power-cycle", "--before", "true", "--after", "true"}, {hook});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("cannot sync an NVDIMM backing file: Input/output error (forced by the "
                       "test)"),
            std::string::npos)
      << Describe(r);
  EXPECT_EQ(r.err.find("cut: trigger"), std::string::npos) << Describe(r);
}

}  // namespace
