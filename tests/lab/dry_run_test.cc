// dry_run_test.cc -- `nvlab run --dry-run` and `nvlab power-cycle --dry-run` print exactly the
// QEMU command lines nvlab then starts: each printed line, read back by sh, equals the
// /proc/PID/cmdline of the QEMU the same command without --dry-run launches (the run folder's
// random name normalised). A dry run starts nothing and creates no file the user named.
//
// The guest commands wait for a file the test makes in the --share folder once it has read
// QEMU's command line, so nothing here depends on timing.

#include <dirent.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "file_text.h"
#include "nvlab/deadline.h"
#include "nvlab/host_command.h"
#include "nvlab/subprocess.h"
#include "nvlab_process.h"

namespace {
namespace fs = std::filesystem;
using nvlab::Deadline;
using nvlab::Status;
using nvlab::Subprocess;
using nvlab::SubprocessOptions;
using nvlab::testing::Describe;
using nvlab::testing::FileText;
using nvlab::testing::RunNvlab;
using Words = std::vector<std::string>;

// SplitNul splits /proc/PID/cmdline-style text (each word ends with a NUL).
Words SplitNul(const std::string& text) {
  Words words;
  for (size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
  }
  return words;
}

// AsShReadsIt gives the words sh makes of `line`: the line is pasted after printf, as a user
// would paste it after a prompt.
Words AsShReadsIt(const std::string& line) {
  std::string out;
  const Status s = nvlab::RunHostCommand({"sh", "-c", "printf '%s\\0' " + line}, {}, &out);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << line;
  return SplitNul(out);
}

// Normalised replaces the run folder's random part (mkdtemp's nvlab-XXXXXX), the RAM folder's
// (ram-XXXXXX) and the host TSC rate a cold boot measures for lpj= (each nvlab measures its own).
Words Normalised(Words words) {
  static const std::regex run_folder("/nvlab-[A-Za-z0-9]{6}/");
  static const std::regex ram_folder("/ram-[A-Za-z0-9]{6}/");
  static const std::regex lpj(" lpj=[0-9]+ ");
  for (std::string& w : words) {
    w = std::regex_replace(w, run_folder, "/nvlab-RUN/");
    w = std::regex_replace(w, ram_folder, "/ram-RUN/");
    w = std::regex_replace(w, lpj, " lpj=N ");
  }
  return words;
}

// QemuCommandLineOfChild waits until `parent` has a child that has exec'd QEMU with a command
// line containing `marker`, and returns that command line (empty if the parent ended first).
Words QemuCommandLineOfChild(pid_t parent, const std::string& marker) {
  const Deadline deadline = Deadline::In(std::chrono::minutes(5));
  while (!deadline.expired()) {
    if (kill(parent, 0) != 0) return {};
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return {};
    Words found;
    while (dirent* entry = readdir(proc)) {
      const std::string name = entry->d_name;
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string stat = FileText("/proc/" + name + "/stat");
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing ')'.
      const size_t close = stat.rfind(')');
      if (close == std::string::npos) continue;
      int ppid = 0;
      char state = 0;
      if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
      if (ppid != parent) continue;
      const Words argv = SplitNul(FileText("/proc/" + name + "/cmdline"));
      // Between fork and exec the child still shows nvlab's command line.
      if (argv.empty() || argv[0] != "qemu-system-x86_64") continue;
      for (const std::string& w : argv) {
        if (w.find(marker) != std::string::npos) found = argv;
      }
    }
    closedir(proc);
    if (!found.empty()) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

class DryRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = nvlab::testing::MakeTempDir();
    share_ = dir_ / "share";
    fs::create_directories(share_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Start runs nvlab (not waiting), its output to files in the test folder.
  void Start(const Words& args, Subprocess* nvlab) {
    SubprocessOptions options;
    options.stdout_to = SubprocessOptions::Stream::kFile;
    options.stdout_path = dir_ / "out";
    options.stderr_to = SubprocessOptions::Stream::kFile;
    options.stderr_path = dir_ / "err";
    Words argv = {NVLAB_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    ASSERT_TRUE(Subprocess::Start(argv, options, nvlab).ok());
  }
  // WaitFor is the guest command that waits for share/NAME.
  static std::string WaitFor(const std::string& name) {
    return "while [ ! -e /host/" + name + " ]; do sleep 0.1; done";
  }
  void Release(const std::string& name) { std::ofstream(share_ / name) << "go\n"; }
  // BuildWarmStartTemplate runs `nvlab run` once with the options that shape the guest, so that
  // the template exists and the next run starts one QEMU only: the one that restores it (the
  // template's own boot is another QEMU, with no plugin and no -incoming).
  static void BuildWarmStartTemplate(const Words& shaping) {
    Words argv = {"run"};
    argv.insert(argv.end(), shaping.begin(), shaping.end());
    argv.insert(argv.end(), {"--", "true"});
    const auto r = RunNvlab(argv);
    ASSERT_EQ(r.exit_status, 0) << Describe(r);
  }
  void ExpectExitZero(Subprocess* nvlab) {
    const Status waited = nvlab->Wait(Deadline::In(std::chrono::minutes(5)));
    ASSERT_TRUE(waited.ok()) << waited.ToString();
    EXPECT_TRUE(nvlab->Succeeded()) << nvlab->DescribeExit() << "\n" << FileText(dir_ / "err");
  }

  fs::path dir_;
  fs::path share_;
};

TEST_F(DryRunTest, RunPrintsTheCommandLineOfTheQemuItStarts) {
  const fs::path image = dir_ / "nv.img";
  const Words options = {"--share",        share_.string(), "--nvdimm-image", image.string(),
                         "--trace-stores", "user",          "--on-cut",       "random:3:0.5"};
  Words dry = {"run", "--dry-run"};
  dry.insert(dry.end(), options.begin(), options.end());
  dry.insert(dry.end(), {"--", WaitFor("go")});
  const auto printed = RunNvlab(dry);
  ASSERT_EQ(printed.exit_status, 0) << Describe(printed);
  ASSERT_TRUE(printed.out.ends_with("\n")) << Describe(printed);
  const std::string line = printed.out.substr(0, printed.out.size() - 1);
  ASSERT_EQ(line.find('\n'), std::string::npos) << "one line: " << Describe(printed);
  EXPECT_FALSE(fs::exists(image)) << "a dry run creates no --nvdimm-image";
  EXPECT_TRUE(line.ends_with(" -incoming defer")) << "warm starts are the default: " << line;

  BuildWarmStartTemplate({"--share", share_.string()});
  Words real = {"run"};
  real.insert(real.end(), options.begin(), options.end());
  real.insert(real.end(), {"--", WaitFor("go")});
  Subprocess nvlab;
  Start(real, &nvlab);
  const Words started = QemuCommandLineOfChild(nvlab.pid(), "console-1.sock");
  Release("go");
  ExpectExitZero(&nvlab);
  ASSERT_FALSE(started.empty()) << FileText(dir_ / "err");
  EXPECT_EQ(Normalised(AsShReadsIt(line)), Normalised(started)) << line;
}

TEST_F(DryRunTest, PowerCyclePrintsBothBootsCommandLines) {
  const Words options = {"--share", share_.string(), "--machine", "two-nvdimms-numa"};
  Words dry = {"power-cycle", "--dry-run"};
  dry.insert(dry.end(), options.begin(), options.end());
  dry.insert(dry.end(), {"--before", WaitFor("go1"), "--after", WaitFor("go2")});
  const auto printed = RunNvlab(dry);
  ASSERT_EQ(printed.exit_status, 0) << Describe(printed);
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = printed.out.find('\n', start)) != std::string::npos;
       start = end + 1) {
    lines.push_back(printed.out.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 2u) << Describe(printed);

  BuildWarmStartTemplate(options);
  Words real = {"power-cycle"};
  real.insert(real.end(), options.begin(), options.end());
  real.insert(real.end(), {"--before", WaitFor("go1"), "--after", WaitFor("go2")});
  Subprocess nvlab;
  Start(real, &nvlab);
  const Words boot1 = QemuCommandLineOfChild(nvlab.pid(), "console-1.sock");
  Release("go1");
  const Words boot2 = QemuCommandLineOfChild(nvlab.pid(), "console-2.sock");
  Release("go2");
  ExpectExitZero(&nvlab);
  ASSERT_FALSE(boot1.empty()) << FileText(dir_ / "err");
  ASSERT_FALSE(boot2.empty()) << FileText(dir_ / "err");
  EXPECT_EQ(Normalised(AsShReadsIt(lines[0])), Normalised(boot1)) << lines[0];
  EXPECT_EQ(Normalised(AsShReadsIt(lines[1])), Normalised(boot2)) << lines[1];
}

TEST_F(DryRunTest, ADryRunNeedsNoQemuAndOddArgumentsSurviveTheQuoting) {
  // No QEMU on PATH: a dry run does not ask it its version.
  const fs::path odd = dir_ / "it's a \"share\" $HOME";
  fs::create_directories(odd);
  const auto r =
      RunNvlab({"run", "--dry-run", "--model", "off", "--share", odd.string(), "--", "true"},
               {"PATH=/nonexistent"});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  const Words words = AsShReadsIt(r.out.substr(0, r.out.find('\n')));
  bool found = false;
  for (const std::string& w : words) {
    found = found || w == "local,id=share,path=" + odd.string() +
                              ",mount_tag=nvlab_share,security_model=none";
  }
  EXPECT_TRUE(found) << r.out;
  EXPECT_NE(r.out.find(" -incoming defer"), std::string::npos) << r.out;

  // --cold: the kernel boots, nothing is restored.
  const auto cold = RunNvlab({"run", "--dry-run", "--cold", "--model", "off", "--", "true"},
                             {"PATH=/nonexistent"});
  ASSERT_EQ(cold.exit_status, 0) << Describe(cold);
  EXPECT_EQ(cold.out.find("-incoming"), std::string::npos) << cold.out;
  EXPECT_NE(cold.out.find("nvlab.template=1"), std::string::npos) << cold.out;
  // Never saved: its agent leaves the drivers to the resume's setup.
  EXPECT_NE(cold.out.find("nvlab.preload=0"), std::string::npos) << cold.out;
  EXPECT_EQ(r.out.find("nvlab.preload=0"), std::string::npos) << r.out;
}

}  // namespace
