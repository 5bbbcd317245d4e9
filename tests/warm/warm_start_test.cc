// warm_start_test.cc -- warm starts in real guests (docs/design/warm-starts.md): guests restored
// from one template have their own random state and their own NVDIMMs; a stale, damaged or
// unloadable template is never loaded; a concurrent first use builds one template; the same
// power-cycles give the same results warm and cold.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "file_text.h"
#include "nvlab/file_contents.h"
#include "nvlab/memory_image_file.h"
#include "nvlab_process.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using testing::Describe;
using testing::FileText;
using testing::NvlabResult;
using testing::RunNvlab;

// Values prints KEY=VALUE lines of a guest's output into a map.
std::map<std::string, std::string> Values(const std::string& out) {
  std::map<std::string, std::string> values;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return values;
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class WarmStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    share_ = dir_ / "share";
    fs::create_directories(share_);
    fs::copy_file(NVLAB_GUEST_RANDOM, share_ / "nvlab-guest-random");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // PrivateHome makes an NVLAB_HOME of this test's own that shares the test home's images (no
  // rebuild) but not its templates, and returns its NVLAB_HOME= entry.
  std::string PrivateHome() {
    const fs::path home = dir_ / "home";
    fs::create_directories(home);
    for (const char* shared : {"images", "base"}) {
      fs::create_directory_symlink(fs::path(NVLAB_TEST_HOME) / shared, home / shared);
    }
    return "NVLAB_HOME=" + home.string();
  }
  fs::path Templates() const { return dir_ / "home/templates"; }
  std::vector<fs::path> TemplateDirs() const {
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(Templates(), ec)) {
      if (e.is_directory() && e.path().filename().string().rfind("tmp-", 0) != 0) {
        dirs.push_back(e.path());
      }
    }
    return dirs;
  }

  fs::path dir_;
  fs::path share_;
};

// Two guests restored at once from one template: new random state each, own NVDIMMs each.
TEST_F(WarmStartTest, GuestsRestoredAtOnceDifferInRandomStateAndSeeOnlyTheirOwnNvdimms) {
  const std::vector<std::string> shape = {"--share", share_.string(), "--namespace", "fsdax"};
  // run runs `sh -c command - owner` in a guest on NVDIMM file `image`.
  auto run = [&](const std::string& image, const std::string& command,
                 const std::string& owner = "") {
    std::vector<std::string> args = {"run", "-v", "--nvdimm-image", image};
    args.insert(args.end(), shape.begin(), shape.end());
    args.insert(args.end(), {"--", "sh", "-c", command, "-", owner});
    return RunNvlab(args);
  };
  // The template exists before the two guests start (the first use builds it).
  const NvlabResult first = run((dir_ / "warmup.img").string(), "true");
  ASSERT_EQ(first.exit_status, 0) << Describe(first);

  const std::string a = (dir_ / "a.img").string();
  const std::string b = (dir_ / "b.img").string();
  const std::string probe =
      "echo boot_id=$(cat /proc/sys/kernel/random/boot_id); "
      "echo uuid=$(ndctl list -N | sed -n 's/.*\"uuid\":\"\\([^\"]*\\)\".*/\\1/p'); "
      "/host/nvlab-guest-random; echo owner=$1 > $NVLAB_PMEM/owner; sync";
  NvlabResult ra, rb;
  std::thread ta([&] { ra = run(a, probe, "alpha"); });
  std::thread tb([&] { rb = run(b, probe, "beta"); });
  ta.join();
  tb.join();
  ASSERT_EQ(ra.exit_status, 0) << Describe(ra);
  ASSERT_EQ(rb.exit_status, 0) << Describe(rb);
  for (const NvlabResult* r : {&ra, &rb}) {
    EXPECT_NE(r->err.find("phases (warm)"), std::string::npos) << Describe(*r);
  }
  auto va = Values(ra.out);
  auto vb = Values(rb.out);
  for (const char* key : {"boot_id", "uuid", "canary", "at_random"}) {
    EXPECT_FALSE(va[key].empty()) << key << "\n" << ra.out;
    EXPECT_NE(va[key], vb[key]) << key << "\n" << ra.out << "\n" << rb.out;
  }

  // Each NVDIMM kept its own guest's file, read by guests restored at once again.
  const std::string read = "cat $NVLAB_PMEM/owner";
  NvlabResult ra2, rb2;
  std::thread ta2([&] { ra2 = run(a, read); });
  std::thread tb2([&] { rb2 = run(b, read); });
  ta2.join();
  tb2.join();
  EXPECT_EQ(ra2.out, "owner=alpha\n") << Describe(ra2);
  EXPECT_EQ(rb2.out, "owner=beta\n") << Describe(rb2);
}

// A template whose files no longer match its manifest is rebuilt before use, or, when the
// damage shows only while a run copies it or QEMU loads it, the run boots cold and says why;
// either way the guest works and the damaged files are never restored.
TEST_F(WarmStartTest, AStaleOrDamagedTemplateIsRebuiltNeverLoaded) {
  const std::string home = PrivateHome();
  auto run = [&] { return RunNvlab({"run", "-v", "--", "echo", "ran"}, {home}); };
  NvlabResult r = run();
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_EQ(Count(r.err, "building the warm-start template"), 1) << r.err;
  ASSERT_EQ(TemplateDirs().size(), 1u);
  const fs::path t = TemplateDirs()[0];

  // Truncated RAM: found before use, rebuilt.
  fs::resize_file(t / "ram0", fs::file_size(t / "ram0") / 2);
  r = run();
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("is stale"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("phases (warm)"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "ran\n");

  // One byte of guest memory changed, the size kept: the run's copy does not match, so this
  // run boots cold, says so on stderr, and the next run rebuilds the template.
  {
    std::fstream f(t / "ram0", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1 << 20);
    f.put('\x5a');
  }
  r = run();
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("nvlab: warm start from " + t.string() + " failed (" +
                       (t / "ram0").string() + " does not match its checksum); booting cold"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("phases (cold)"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  r = run();
  EXPECT_NE(r.err.find("is stale (no template at " + t.string() + "): building it again"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("phases (warm)"), std::string::npos) << r.err;

  // A state file QEMU cannot load (another QEMU's, or cut short with a manifest to match): a
  // cold boot, with QEMU's reason.
  std::string state;
  ASSERT_TRUE(ReadFileContents(t / "state", &state).ok());
  state.resize(state.size() / 2);
  ASSERT_TRUE(WriteFileContents(t / "state", state).ok());
  uint64_t checksum = 0;
  ASSERT_TRUE(MemoryImageChecksum(t / "state", &checksum).ok());
  std::string manifest;
  ASSERT_TRUE(ReadFileContents(t / "manifest", &manifest).ok());
  char hex[17];
  (void)std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(checksum));
  manifest = std::regex_replace(manifest, std::regex("state\\.checksum=[0-9a-f]+"),
                                std::string("state.checksum=") + hex);
  manifest = std::regex_replace(manifest, std::regex("state\\.size=[0-9]+"),
                                "state.size=" + std::to_string(state.size()));
  ASSERT_TRUE(WriteFileContents(t / "manifest", manifest).ok());
  r = run();
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("failed (QEMU"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("booting cold"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "ran\n");
}

// A power-cycle's second boot finds its RAM copy made while the first boot ran (the copy's
// time is off the second boot's path), and the data the first boot flushed.
TEST_F(WarmStartTest, APowerCyclesSecondBootUsesTheRamStagedDuringTheFirst) {
  const NvlabResult r =
      RunNvlab({"power-cycle", "-v", "--before",
                "nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --count 2", "--after",
                "nvlab-records check \"$NVLAB_PMEM\" --pattern flush-drain --count 2"});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("pattern=flush-drain index=1 survived=yes"), std::string::npos) << r.out;
  EXPECT_EQ(Count(r.err, "(staged while the last boot ran)"), 1) << r.err;
  EXPECT_NE(r.err.find("boot 2 phases (warm): RAM copy"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("boot 1 phases (warm): RAM copy 0.00 s (staged"), std::string::npos);
  // The first boot copies the template's RAM itself, while its QEMU starts.
  const size_t first = r.err.find("boot 1 phases (warm): RAM copy ");
  ASSERT_NE(first, std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(while QEMU started)", first), std::string::npos) << r.err;
}

// Another QEMU binary (here: a wrapper whose modification time changes, as an upgrade does)
// gets its own template.
TEST_F(WarmStartTest, AnotherQemuGetsItsOwnTemplate) {
  const std::string home = PrivateHome();
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  ASSERT_TRUE(WriteFileContents(bin / "qemu-system-x86_64",
                                "#!/bin/sh\nexec /usr/bin/qemu-system-x86_64 \"$@\"\n", true)
                  .ok());
  const std::string path = "PATH=" + bin.string() + ":" + std::getenv("PATH");
  auto run = [&] { return RunNvlab({"run", "-v", "--", "true"}, {home, path}); };
  NvlabResult r = run();
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  r = run();
  EXPECT_EQ(Count(r.err, "building the warm-start template"), 0) << r.err;
  const fs::file_time_type later =
      fs::last_write_time(bin / "qemu-system-x86_64") + std::chrono::seconds(10);
  fs::last_write_time(bin / "qemu-system-x86_64", later);
  r = run();
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_EQ(Count(r.err, "building the warm-start template"), 1) << r.err;
  EXPECT_EQ(TemplateDirs().size(), 2u);
}

TEST_F(WarmStartTest, AConcurrentFirstUseBuildsOneTemplate) {
  const std::string home = PrivateHome();
  NvlabResult r1, r2;
  std::thread t1([&] { r1 = RunNvlab({"run", "-v", "--", "echo", "one"}, {home}); });
  std::thread t2([&] { r2 = RunNvlab({"run", "-v", "--", "echo", "two"}, {home}); });
  t1.join();
  t2.join();
  ASSERT_EQ(r1.exit_status, 0) << Describe(r1);
  ASSERT_EQ(r2.exit_status, 0) << Describe(r2);
  EXPECT_EQ(r1.out, "one\n");
  EXPECT_EQ(r2.out, "two\n");
  EXPECT_EQ(Count(r1.err + r2.err, "building the warm-start template"), 1) << r1.err << r2.err;
  EXPECT_EQ(TemplateDirs().size(), 1u);
  for (const NvlabResult* r : {&r1, &r2}) {
    EXPECT_NE(r->err.find("phases (warm)"), std::string::npos) << r->err;
  }
}

// The marked subset of the lab suite that runs both ways: a flushed record survives a cut and
// an unflushed one does not, in both DAX namespace modes (records need DAX), warm and cold.
struct WayAndMode {
  bool cold;
  const char* ns;
};

// PrintTo names a case (ctest shows it beside the test name).
void PrintTo(const WayAndMode& w, std::ostream* os) {
  *os << (w.cold ? "cold " : "warm ") << w.ns;
}

class WarmColdTest : public WarmStartTest, public ::testing::WithParamInterface<WayAndMode> {};

TEST_P(WarmColdTest, FlushedRecordsSurviveACutAndUnflushedOnesDoNot) {
  std::vector<std::string> base = {"power-cycle", "--namespace", GetParam().ns};
  if (GetParam().cold) base.push_back("--cold");
  base.push_back("-v");
  for (const auto& [pattern, survives] :
       std::vector<std::pair<std::string, bool>>{{"flush-drain", true}, {"noflush", false}}) {
    std::vector<std::string> args = base;
    args.insert(args.end(),
                {"--before", "nvlab-records write \"$NVLAB_PMEM\" --pattern " + pattern + " --cut",
                 "--after", "nvlab-records check \"$NVLAB_PMEM\" --pattern " + pattern});
    const NvlabResult r = RunNvlab(args);
    EXPECT_EQ(r.exit_status, 0) << pattern << "\n" << Describe(r);
    // Every record of the pattern is judged alike: kept when flushed, lost when not.
    EXPECT_NE(r.out.find(survives ? "survived=yes" : "survived=no"), std::string::npos)
        << pattern << "\n"
        << Describe(r);
    EXPECT_EQ(r.out.find(survives ? "survived=no" : "survived=yes"), std::string::npos)
        << pattern << "\n"
        << Describe(r);
    const char* way = GetParam().cold ? "phases (cold)" : "phases (warm)";
    EXPECT_EQ(Count(r.err, way), 2) << "both boots " << way << "\n" << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Ways, WarmColdTest,
                         ::testing::Values(WayAndMode{false, "devdax"}, WayAndMode{true, "devdax"},
                                           WayAndMode{false, "fsdax"}, WayAndMode{true, "fsdax"}),
                         [](const auto& info) {
                           return std::string(info.param.cold ? "Cold" : "Warm") + "_" +
                                  info.param.ns;
                         });

}  // namespace
}  // namespace nvlab
