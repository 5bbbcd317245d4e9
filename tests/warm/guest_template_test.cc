// guest_template_test.cc -- the template manifest (written at publication, checked at use) and
// the template key (what changes it, what does not).

#include "nvlab/guest_template.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "nvlab/file_contents.h"
#include "nvlab/guest_template_cache.h"
#include "nvlab/memory_image_file.h"
#include "nvlab_process.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

class GuestTemplateManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    t_.dir = dir_;
    t_.key = "0123456789abcdef";
    t_.state = dir_ / "state";
    ASSERT_TRUE(WriteFileContents(t_.state, "saved device state").ok());
    ASSERT_TRUE(MemoryImageChecksum(t_.state, &t_.state_checksum).ok());
    for (int n = 0; n < 2; ++n) {
      const fs::path ram = dir_ / ("ram" + std::to_string(n));
      ASSERT_TRUE(WriteFileContents(ram, std::string(8192, static_cast<char>('a' + n))).ok());
      uint64_t sum = 0;
      ASSERT_TRUE(MemoryImageChecksum(ram, &sum).ok());
      t_.ram_files.push_back(ram);
      t_.ram_checksums.push_back(sum);
    }
    ASSERT_TRUE(WriteGuestTemplateManifest(t_, "input.qemu=/usr/bin/qemu\n").ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  Status Load(int nodes = 2) {
    GuestTemplate loaded;
    return LoadGuestTemplate(dir_, t_.key, nodes, &loaded);
  }

  fs::path dir_;
  GuestTemplate t_;
};

TEST_F(GuestTemplateManifestTest, LoadsWhatWasWritten) {
  GuestTemplate loaded;
  const Status s = LoadGuestTemplate(dir_, t_.key, 2, &loaded);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(loaded.state, t_.state);
  EXPECT_EQ(loaded.state_checksum, t_.state_checksum);
  EXPECT_EQ(loaded.ram_files, t_.ram_files);
  EXPECT_EQ(loaded.ram_checksums, t_.ram_checksums);
  EXPECT_EQ(loaded.console_log, dir_ / "console.log");
}

TEST_F(GuestTemplateManifestTest, AStaleOrDamagedTemplateIsNotFoundWithTheReason) {
  EXPECT_NE(Load(1).message().find("more RAM files"), std::string::npos) << Load(1).ToString();
  EXPECT_NE(Load(3).message().find("ram2"), std::string::npos) << Load(3).ToString();
  GuestTemplate other;
  EXPECT_EQ(LoadGuestTemplate(dir_, "fedcba9876543210", 2, &other).code(), Status::Code::kNotFound);

  // A truncated RAM file, then a state file edited in place (same size).
  fs::resize_file(t_.ram_files[1], 4096);
  Status s = Load();
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("has 4096 bytes, not 8192"), std::string::npos) << s.ToString();
  fs::resize_file(t_.ram_files[1], 8192);
  ASSERT_TRUE(WriteFileContents(t_.state, "saved device statf").ok());
  s = Load();
  EXPECT_NE(s.message().find("does not match its checksum"), std::string::npos) << s.ToString();
  fs::remove(t_.state);
  EXPECT_NE(Load().message().find("vanished"), std::string::npos) << Load().ToString();

  std::string manifest;
  ASSERT_TRUE(ReadFileContents(dir_ / "manifest", &manifest).ok());
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"format=nvlab-guest-template-1", "format=nvlab-guest-template-0"},
           {"format=", "no equals sign\nformat="},
           {"ram0.size=8192", "ram0.size=8x"},
           {"ram0.checksum=", "ram0.checksum=zz"}}) {
    std::string edited = manifest;
    edited.replace(edited.find(from), from.size(), to);
    ASSERT_TRUE(WriteFileContents(dir_ / "manifest", edited).ok());
    EXPECT_EQ(Load().code(), Status::Code::kNotFound) << edited;
  }
  fs::remove(dir_ / "manifest");
  EXPECT_NE(Load().message().find("no template"), std::string::npos);
}

// The template key.
class GuestTemplateKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    ASSERT_TRUE(WriteFileContents(dir_ / "vmlinux", "kernel").ok());
    ASSERT_TRUE(WriteFileContents(dir_ / "initrd", "initrd").ok());
    ASSERT_TRUE(WriteFileContents(dir_ / "qemu", "#!/bin/sh\n", true).ok());
    config_.kernel = dir_ / "vmlinux";
    config_.initrd = dir_ / "initrd";
    config_.qemu = (dir_ / "qemu").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Key(const GuestConfig& config) {
    std::string key, inputs;
    const Status s = GuestTemplateKey(config, &key, &inputs);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(key.size(), 16u);
    return key;
  }

  fs::path dir_;
  GuestConfig config_;
};

TEST_F(GuestTemplateKeyTest, ChangesWithWhatShapesTheSavedGuest) {
  const std::string base = Key(config_);
  EXPECT_EQ(Key(config_), base);
  auto changed = [&](void (*change)(GuestConfig*)) {
    GuestConfig c = config_;
    change(&c);
    return Key(c);
  };
  EXPECT_NE(changed([](GuestConfig* c) { c->machine.memory = 1ull << 30; }), base);
  EXPECT_NE(changed([](GuestConfig* c) { c->machine.vcpus = 1; }), base);
  EXPECT_NE(changed([](GuestConfig* c) { c->machine.nvdimms.push_back(Nvdimm{}); }), base);
  EXPECT_NE(changed([](GuestConfig* c) { c->machine.persistence = Persistence::kEadr; }), base);
  EXPECT_NE(changed([](GuestConfig* c) { c->share_dir = "/somewhere"; }), base);
  EXPECT_NE(changed([](GuestConfig* c) { c->deterministic = true; }), base);
  // Not the run's own files, the persistence model, or what the resume request carries.
  EXPECT_EQ(changed([](GuestConfig* c) { c->nvdimm_images = {"/elsewhere/nv.img"}; }), base);
  EXPECT_EQ(changed([](GuestConfig* c) { c->model.enabled = !c->model.enabled; }), base);
  EXPECT_EQ(changed([](GuestConfig* c) { c->machine.namespace_mode = NamespaceMode::kFsdax; }),
            base);
  EXPECT_EQ(changed([](GuestConfig* c) { c->machine.filesystem = FileSystem::kXfs; }), base);

  // A rebuilt kernel, or another QEMU binary at the same path.
  ASSERT_TRUE(WriteFileContents(dir_ / "vmlinux", "kernel v2").ok());
  const std::string new_kernel = Key(config_);
  EXPECT_NE(new_kernel, base);
  fs::remove(dir_ / "qemu");
  ASSERT_TRUE(WriteFileContents(dir_ / "qemu", "#!/bin/sh\n# upgraded\n", true).ok());
  EXPECT_NE(Key(config_), new_kernel);
}

TEST_F(GuestTemplateKeyTest, AMissingQemuKernelOrInitrdIsNotFound) {
  std::string key, inputs;
  GuestConfig c = config_;
  c.qemu = (dir_ / "no-qemu").string();
  EXPECT_EQ(GuestTemplateKey(c, &key, &inputs).code(), Status::Code::kNotFound);
  c = config_;
  c.initrd = dir_ / "no-initrd";
  EXPECT_EQ(GuestTemplateKey(c, &key, &inputs).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace nvlab
