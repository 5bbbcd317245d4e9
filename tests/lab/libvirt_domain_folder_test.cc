// libvirt_domain_folder_test.cc -- the domain folder on the real file system: what
// PrepareLibvirtDomainFolder makes (copies, NVDIMM files, run/ owned by QEMU's user), what it
// keeps, and the clear refusals when QEMU's user could not reach nvlab's files or the folder.
// CheckUserCanOpen is checked with an account of its own (a uid nothing here belongs to).

#include "nvlab/libvirt_domain_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "nvlab/file_contents.h"

namespace nvlab {
namespace {
namespace fs = std::filesystem;

// kStranger owns nothing on this host: only the "other" permission bits apply to it.
constexpr uid_t kStranger = 54321;

fs::path MakeTempDir() {
  char templ[] = "/tmp/nvlab-domain-test-XXXXXX";
  EXPECT_NE(mkdtemp(templ), nullptr);
  return templ;
}

std::string Read(const fs::path& path) {
  std::string text;
  EXPECT_TRUE(ReadFileContents(path, &text).ok()) << path;
  return text;
}

class LibvirtDomainFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    // mkdtemp makes the folder 0700; QEMU's user must pass through it.
    fs::permissions(root_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    ASSERT_TRUE(FindQemuUser(&user_).ok());
    fs::create_directories(root_ / "prefix");
    ASSERT_TRUE(WriteFileContents(root_ / "prefix/nvlab-qemu", "#!/bin/sh\n", true).ok());
    ASSERT_TRUE(WriteFileContents(root_ / "prefix/nvlab-plugin.so", "plugin").ok());
    ASSERT_TRUE(WriteFileContents(root_ / "vmlinux", "kernel 1").ok());
    ASSERT_TRUE(WriteFileContents(root_ / "initramfs.cpio", "initrd 1").ok());
    machine_.nvdimms = {Nvdimm{2ull << 20, 0, 0}, Nvdimm{4ull << 20, 0, 0}};
    request_.folder.dir = root_ / "domains/dom";
    request_.kernel = root_ / "vmlinux";
    request_.initrd = root_ / "initramfs.cpio";
    request_.emulator = root_ / "prefix/nvlab-qemu";
    request_.plugin = root_ / "prefix/nvlab-plugin.so";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  Status Prepare() { return PrepareLibvirtDomainFolder(machine_, request_, user_, &files_); }
  QemuUser Stranger() const {
    QemuUser u;
    u.name = "stranger";
    u.uid = kStranger;
    u.gid = kStranger;
    u.groups = {kStranger};
    return u;
  }

  fs::path root_;
  QemuUser user_;
  Machine machine_;
  LibvirtDomainFolderRequest request_;
  std::vector<fs::path> files_;
};

TEST_F(LibvirtDomainFolderTest, MakesTheFolderWithCopiesNvdimmsAndARunFolderForQemusUser) {
  ASSERT_TRUE(Prepare().ok()) << Prepare().ToString();
  const LibvirtDomainFolder& d = request_.folder;
  EXPECT_EQ(Read(d.kernel()), "kernel 1");
  EXPECT_EQ(Read(d.initrd()), "initrd 1");
  EXPECT_EQ(fs::status(d.kernel()).permissions(), static_cast<fs::perms>(0644));
  EXPECT_EQ(fs::status(d.dir).permissions(), static_cast<fs::perms>(0755));
  ASSERT_EQ(files_, std::vector<fs::path>({d.nvdimm_file(0), d.nvdimm_file(1)}));
  EXPECT_EQ(fs::file_size(files_[0]), 2u << 20);
  EXPECT_EQ(fs::file_size(files_[1]), 4u << 20);
  struct stat st {};
  ASSERT_EQ(stat(d.run_dir().c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, user_.uid);
  EXPECT_EQ(st.st_gid, user_.gid);
  // No temporary copy is left behind.
  for (const auto& entry : fs::directory_iterator(d.dir)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".")) << entry.path();
  }
}

TEST_F(LibvirtDomainFolderTest, AgainKeepsWhatIsThereAndRefreshesOnlyWhatChanged) {
  ASSERT_TRUE(Prepare().ok());
  const LibvirtDomainFolder& d = request_.folder;
  std::ofstream(files_[0], std::ios::in | std::ios::out) << "guest data";
  struct stat before {};
  ASSERT_EQ(stat(d.kernel().c_str(), &before), 0);
  ASSERT_TRUE(WriteFileContents(root_ / "initramfs.cpio", "initrd 2").ok());
  ASSERT_TRUE(Prepare().ok());
  struct stat after {};
  ASSERT_EQ(stat(d.kernel().c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "an unchanged kernel is not copied again";
  EXPECT_EQ(Read(d.initrd()), "initrd 2");
  EXPECT_EQ(Read(files_[0]).substr(0, 10), "guest data");
  EXPECT_EQ(fs::file_size(files_[0]), 2u << 20);
}

TEST_F(LibvirtDomainFolderTest, TheCallersNvdimmFileIsUsedAndAWrongSizeIsRefusedAndKept) {
  const fs::path mine = root_ / "mine.img";
  request_.nvdimm_images = {mine};
  ASSERT_TRUE(Prepare().ok());
  EXPECT_EQ(files_[0], mine);
  EXPECT_EQ(files_[1], request_.folder.nvdimm_file(1));
  EXPECT_FALSE(fs::exists(request_.folder.nvdimm_file(0)));
  EXPECT_EQ(fs::file_size(mine), 2u << 20);

  ASSERT_TRUE(WriteFileContents(mine, "precious").ok());
  const Status s = Prepare();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(mine.string()), std::string::npos) << s.message();
  EXPECT_EQ(Read(mine), "precious");
}

TEST_F(LibvirtDomainFolderTest, AMissingEmulatorOrPluginIsNamedAndNothingIsMade) {
  request_.emulator = root_ / "prefix/absent-qemu";
  Status s = Prepare();
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("nvlab-qemu is missing"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(request_.emulator.string()), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(request_.folder.dir));

  request_.emulator = root_ / "prefix/nvlab-qemu";
  request_.plugin = root_ / "prefix/absent.so";
  s = Prepare();
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("--model off"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(request_.folder.dir));

  request_.plugin.clear();  // the model off: no plugin needed
  EXPECT_TRUE(Prepare().ok());
}

TEST_F(LibvirtDomainFolderTest, AnInstallQemusUserCannotReadIsRefusedWithTheRemedy) {
  if (user_.uid == 0) GTEST_SKIP() << "QEMU runs as root here: every file is within its reach";
  // Owner, group and others all lack search permission on the prefix: whoever QEMU runs as
  // (libvirt-qemu for root, the caller otherwise) cannot pass it.
  fs::permissions(root_ / "prefix", static_cast<fs::perms>(0600));
  const Status s = Prepare();
  fs::permissions(root_ / "prefix", static_cast<fs::perms>(0755));
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(
      s.message().find(user_.name + " cannot search the folder " + (root_ / "prefix").string()),
      std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("cmake --install build/release --prefix /usr/local"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(fs::exists(request_.folder.dir));
}

TEST_F(LibvirtDomainFolderTest, AFolderQemusUserCannotReachIsRefused) {
  if (user_.uid == 0) GTEST_SKIP() << "QEMU runs as root here: every file is within its reach";
  if (user_.uid == geteuid()) GTEST_SKIP() << "QEMU runs as the caller, who owns the folder";
  fs::create_directories(root_ / "private");
  fs::permissions(root_ / "private", static_cast<fs::perms>(0700));
  request_.folder.dir = root_ / "private/dom";
  const Status s = Prepare();
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find((root_ / "private").string()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--domain-dir"), std::string::npos) << s.message();
}

TEST_F(LibvirtDomainFolderTest, CheckUserCanOpenReadsOwnerGroupAndOtherBits) {
  const QemuUser stranger = Stranger();
  const fs::path file = root_ / "vmlinux";
  EXPECT_TRUE(CheckUserCanOpen(stranger, file, UserAccess::kRead).ok());
  EXPECT_FALSE(CheckUserCanOpen(stranger, file, UserAccess::kExecute).ok());
  EXPECT_FALSE(CheckUserCanOpen(stranger, file, UserAccess::kWrite).ok());
  fs::permissions(file, static_cast<fs::perms>(0640));
  const Status s = CheckUserCanOpen(stranger, file, UserAccess::kRead);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("stranger cannot read " + file.string()), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("mode 0640"), std::string::npos) << s.message();
  // In the file's group, the group's bits apply.
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  QemuUser member = stranger;
  member.groups.push_back(st.st_gid);
  EXPECT_TRUE(CheckUserCanOpen(member, file, UserAccess::kRead).ok());
  // The owner's bits apply to the owner, even when the others' would allow more.
  QemuUser owner = stranger;
  owner.uid = st.st_uid;
  if (owner.uid == 0) {  // root passes everything: give the file to someone who does not
    owner.uid = kStranger + 1;
    ASSERT_EQ(chown(file.c_str(), owner.uid, static_cast<gid_t>(-1)), 0);
  }
  fs::permissions(file, static_cast<fs::perms>(0044));
  EXPECT_FALSE(CheckUserCanOpen(owner, file, UserAccess::kRead).ok());
  // A folder on the way without search permission for the stranger.
  fs::permissions(root_ / "prefix", static_cast<fs::perms>(0750));
  const Status folder =
      CheckUserCanOpen(stranger, root_ / "prefix/nvlab-qemu", UserAccess::kExecute);
  EXPECT_NE(folder.message().find("cannot search the folder " + (root_ / "prefix").string()),
            std::string::npos)
      << folder.message();
  EXPECT_EQ(CheckUserCanOpen(stranger, root_ / "absent", UserAccess::kRead).code(),
            Status::Code::kNotFound);
  // Root passes everything.
  QemuUser root;
  EXPECT_TRUE(CheckUserCanOpen(root, root_ / "prefix/nvlab-qemu", UserAccess::kRead).ok());
}

TEST_F(LibvirtDomainFolderTest, ALinkOnTheWayIsCheckedWhereItLeads) {
  const QemuUser stranger = Stranger();
  fs::create_directories(root_ / "hidden/inner");
  ASSERT_TRUE(WriteFileContents(root_ / "hidden/inner/file", "x").ok());
  fs::permissions(root_ / "hidden", static_cast<fs::perms>(0700));
  fs::create_directory_symlink(root_ / "hidden/inner", root_ / "link");
  const Status s = CheckUserCanOpen(stranger, root_ / "link/file", UserAccess::kRead);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
}

TEST(LibvirtDomainFolderDefaultsTest, TheDefaultFolderDependsOnWhoRunsNvlab) {
  const fs::path d = DefaultLibvirtDomainDir("dom");
  if (geteuid() == 0) {
    EXPECT_EQ(d, "/var/lib/nvlab/domains/dom");
  } else {
    EXPECT_EQ(d.filename(), "dom");
    EXPECT_EQ(d.parent_path().filename(), "domains");
  }
  QemuUser user;
  ASSERT_TRUE(FindQemuUser(&user).ok());
  EXPECT_FALSE(user.name.empty());
  EXPECT_FALSE(user.groups.empty());
  if (geteuid() != 0) {
    EXPECT_EQ(user.uid, geteuid());
  }
}

}  // namespace
}  // namespace nvlab
