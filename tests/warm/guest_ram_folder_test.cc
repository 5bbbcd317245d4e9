// guest_ram_folder_test.cc -- where a guest's RAM files go: a tmpfs folder of its own when it
// has room, else the run folder; every file reserved whole (a full file system is a clear error
// at once), a tmpfs folder's possibly in the background; the tmpfs folder removed with its owner,
// and swept when its owner was killed.

#include "nvlab/guest_ram_folder.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "file_text.h"
#include "nvlab/memory_image_file.h"
#include "nvlab_process.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

class GuestRamFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::MakeTempDir();
    run_dir_ = testing::MakeTempDir();
  }
  void TearDown() override {
    for (const fs::path& mounted : mounts_) umount(mounted.c_str());
    fs::remove_all(base_);
    fs::remove_all(run_dir_);
  }

  // MountSmallTmpfs mounts a tmpfs of `size` (e.g. "8m") on `dir`; false where that is not
  // allowed (not root).
  bool MountSmallTmpfs(const fs::path& dir, const std::string& size) {
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) return false;
    mounts_.push_back(dir);
    return true;
  }

  fs::path UserFolder() const { return base_ / ("nvlab-" + std::to_string(getuid())); }

  static uint64_t AllocatedBytes(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

  fs::path base_;
  fs::path run_dir_;
  std::vector<fs::path> mounts_;
};

TEST_F(GuestRamFolderTest, FilesGoToAFolderOfTheirOwnUnderTheBaseWithTheOwnersPid) {
  fs::path folder;
  {
    GuestRamFolder ram;
    const Status s = GuestRamFolder::Place(base_, run_dir_, {4 * kMiB, 2 * kMiB}, &ram);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(ram.on_tmpfs());
    ASSERT_EQ(ram.files().size(), 2u);
    folder = ram.files()[0].parent_path();
    EXPECT_EQ(folder.parent_path(), UserFolder());
    EXPECT_EQ(folder.filename().string().rfind("ram-", 0), 0u) << folder;
    EXPECT_EQ(ram.files()[0].filename(), "ram0");
    EXPECT_EQ(ram.files()[1].filename(), "ram1");
    EXPECT_EQ(fs::file_size(ram.files()[0]), 4 * kMiB);
    EXPECT_EQ(fs::file_size(ram.files()[1]), 2 * kMiB);
    EXPECT_GE(AllocatedBytes(ram.files()[0]), 4 * kMiB) << "reserved whole, not sparse";
    EXPECT_EQ(testing::FileText(folder / "owner.pid"), std::to_string(getpid()) + "\n");
    EXPECT_NE(ram.description().find(folder.string()), std::string::npos) << ram.description();
    struct stat st {};
    ASSERT_EQ(lstat(UserFolder().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    EXPECT_TRUE(fs::is_empty(run_dir_));

    GuestRamFolder moved = std::move(ram);
    EXPECT_TRUE(fs::exists(folder)) << "a move hands the folder over";
  }
  EXPECT_FALSE(fs::exists(folder)) << "removed with its owner";
}

TEST_F(GuestRamFolderTest, AReservationInTheBackgroundHasTheFilesAtFullSizeAtOnce) {
  fs::path folder;
  {
    GuestRamFolder ram;
    const Status s = GuestRamFolder::Place(base_, run_dir_, {8 * kMiB, 4 * kMiB}, &ram,
                                           GuestRamFolder::Reservation::kInBackground);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(ram.on_tmpfs());
    ASSERT_EQ(ram.files().size(), 2u);
    folder = ram.files()[0].parent_path();
    // QEMU may map them now: they have their size whether or not the reservation is done.
    EXPECT_EQ(fs::file_size(ram.files()[0]), 8 * kMiB);
    EXPECT_EQ(fs::file_size(ram.files()[1]), 4 * kMiB);
    const Status reserved = ram.AwaitReservation();
    EXPECT_TRUE(reserved.ok()) << reserved.ToString();
    EXPECT_GE(AllocatedBytes(ram.files()[0]), 8 * kMiB) << "reserved whole once awaited";
    EXPECT_GE(AllocatedBytes(ram.files()[1]), 4 * kMiB);
    EXPECT_TRUE(ram.AwaitReservation().ok()) << "a second wait finds it done";
  }
  EXPECT_FALSE(fs::exists(folder));
  {
    // Never awaited: the owner's end waits for the reservation, then removes the folder.
    GuestRamFolder ram;
    ASSERT_TRUE(GuestRamFolder::Place(base_, run_dir_, {16 * kMiB}, &ram,
                                      GuestRamFolder::Reservation::kInBackground)
                    .ok());
    folder = ram.files().at(0).parent_path();
    GuestRamFolder moved = std::move(ram);
    EXPECT_TRUE(moved.AwaitReservation().ok()) << "the move hands the reservation over";
  }
  EXPECT_FALSE(fs::exists(folder));
}

TEST_F(GuestRamFolderTest, ARunFolderIsReservedAtOnceEvenWhenTheTmpfsWouldBeInTheBackground) {
  GuestRamFolder ram;
  ASSERT_TRUE(GuestRamFolder::Place("", run_dir_, {2 * kMiB}, &ram,
                                    GuestRamFolder::Reservation::kInBackground)
                  .ok());
  EXPECT_FALSE(ram.on_tmpfs());
  EXPECT_GE(AllocatedBytes(ram.files().at(0)), 2 * kMiB) << "reserved before Place returned";
  EXPECT_TRUE(ram.AwaitReservation().ok());
}

TEST_F(GuestRamFolderTest, AnEmptyBaseKeepsTheFilesInTheRunFolder) {
  GuestRamFolder ram;
  ASSERT_TRUE(GuestRamFolder::Place("", run_dir_, {kMiB}, &ram).ok());
  EXPECT_FALSE(ram.on_tmpfs());
  EXPECT_EQ(ram.files().at(0), run_dir_ / "ram0");
  EXPECT_GE(AllocatedBytes(ram.files()[0]), kMiB);
  EXPECT_NE(ram.description().find("run folder"), std::string::npos) << ram.description();
}

TEST_F(GuestRamFolderTest, ATmpfsWithoutRoomForTheRamAndAMarginIsNotUsed) {
  if (!MountSmallTmpfs(base_, "80m"))
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  GuestRamFolder ram;
  // 64 MiB fits in 80 MiB, but not with the margin (at least 64 MiB).
  ASSERT_TRUE(GuestRamFolder::Place(base_, run_dir_, {64 * kMiB}, &ram).ok());
  EXPECT_FALSE(ram.on_tmpfs()) << ram.description();
  EXPECT_EQ(ram.files().at(0), run_dir_ / "ram0");
  EXPECT_NE(ram.description().find("free, under"), std::string::npos) << ram.description();
  EXPECT_FALSE(fs::exists(UserFolder()));
}

TEST_F(GuestRamFolderTest, ARunFolderWithoutRoomIsAClearErrorAndNothingIsLeftBehind) {
  if (!MountSmallTmpfs(run_dir_, "8m")) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  }
  GuestRamFolder ram;
  const Status s = GuestRamFolder::Place("", run_dir_, {64 * kMiB}, &ram);
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("ram0"), std::string::npos) << s.message();
  EXPECT_TRUE(fs::is_empty(run_dir_)) << "the half-reserved file is removed";
}

TEST_F(GuestRamFolderTest, AFolderThatIsNotTheUsersOwnIsNotUsed) {
  // Another user could have made nvlab-<uid> in a shared /dev/shm: a link is not followed.
  const fs::path elsewhere = base_ / "elsewhere";
  fs::create_directory(elsewhere);
  fs::create_directory_symlink(elsewhere, UserFolder());
  GuestRamFolder ram;
  ASSERT_TRUE(GuestRamFolder::Place(base_, run_dir_, {kMiB}, &ram).ok());
  EXPECT_FALSE(ram.on_tmpfs()) << ram.description();
  EXPECT_TRUE(fs::is_empty(elsewhere));
}

TEST_F(GuestRamFolderTest, FoldersOfOwnersThatAreGoneAreSweptOthersKept) {
  // A PID that is surely gone: a child that exited and was reaped.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);

  fs::create_directory(UserFolder());
  fs::permissions(UserFolder(), fs::perms::owner_all);
  const fs::path stale = UserFolder() / "ram-stale1";
  const fs::path live = UserFolder() / "ram-live01";
  const fs::path young = UserFolder() / "ram-young1";  // no owner.pid yet: being made
  for (const fs::path& dir : {stale, live, young}) fs::create_directory(dir);
  std::ofstream(stale / "owner.pid") << child << "\n";
  std::ofstream(stale / "ram0") << "x";
  std::ofstream(live / "owner.pid") << getpid() << "\n";

  // Placing a guest's RAM sweeps.
  GuestRamFolder ram;
  ASSERT_TRUE(GuestRamFolder::Place(base_, run_dir_, {kMiB}, &ram).ok());
  ASSERT_TRUE(ram.on_tmpfs()) << ram.description();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(young));
  EXPECT_EQ(SweepStaleGuestRamFolders(base_), 0);
}

TEST_F(GuestRamFolderTest, AReservedFileIsAllZerosAndReplacesWhatWasThere) {
  const fs::path file = run_dir_ / "ram0";
  std::ofstream(file) << "old content";
  ASSERT_TRUE(ReserveMemoryImage(file, 3 * kMiB).ok());
  EXPECT_EQ(testing::FileText(file), std::string(3 * kMiB, '\0'));
}

TEST_F(GuestRamFolderTest, ACopyIntoAReservedFileKeepsItsReservation) {
  const fs::path from = run_dir_ / "template";
  {
    std::ofstream out(from);
    out << std::string(kMiB, '\0') << "data" << std::string(kMiB - 4, '\0');
  }
  const fs::path to = run_dir_ / "ram0";
  ASSERT_TRUE(ReserveMemoryImage(to, 2 * kMiB).ok());
  uint64_t checksum = 0;
  const Status s = CopyMemoryImageIntoReserved(from, to, &checksum);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(testing::FileText(to), testing::FileText(from));
  uint64_t expected = 0;
  ASSERT_TRUE(MemoryImageChecksum(from, &expected).ok());
  EXPECT_EQ(checksum, expected);
  EXPECT_GE(AllocatedBytes(to), 2 * kMiB);

  ASSERT_TRUE(ReserveMemoryImage(to, kMiB).ok());
  EXPECT_EQ(CopyMemoryImageIntoReserved(from, to, &checksum).code(),
            Status::Code::kFailedPrecondition);
}

}  // namespace
}  // namespace nvlab
