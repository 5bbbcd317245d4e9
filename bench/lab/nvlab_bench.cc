// nvlab_bench.cc -- nvlab-bench: the lab's speed, measured end to end with the staged nvlab
// command, medians of N runs (default 5), printed side by side in one run:
//
//   first output     time from starting `nvlab run` to the command's first stdout byte
//   run              the whole `nvlab run -- true` (boot, command, power-off)
//   power-cycle      a full `nvlab power-cycle` round trip (two boots, a cut)
//   workload         a guest workload (nvlab-records, flushed and drained records): the whole
//                    run and the command alone (from --json command_seconds)
//
//   host CPU         of `run -- true` and of the workload's whole run: user + system seconds of
//                    nvlab and its QEMU, steadier than the wall clock when the host's load moves;
//                    and the workload's user seconds alone, without the kernel's page zeroing
//                    (whose cost here depends on what ran before: bench/support/timed_run.h)
//   memory           at the first output: the guest's QEMU's resident memory, and the blocks its
//                    RAM file holds (its whole size wherever nvlab reserves the file, as on
//                    tmpfs: nvlab/guest_ram_folder.h; otherwise a warm start's copy of the
//                    template, or what a cold boot has touched)
//
// each with the persistence model off (plain TCG), on (the default), on with --trace-stores
// user and on with --trace-stores on, and the last two again with --cold (warm starts are the
// default), and the ratios to "off". The configurations alternate within each round, so that a
// change in the host's load affects them alike, and each round starts with the next one.
// "floor" runs the model-on lab with a plugin that only registers a translation callback
// (translation_only_plugin.cc) in place of nvlab-plugin.so: the cost of QEMU's instrumentation
// of every translated block for plugins, which any plugin-based model pays. It has no power
// cut, so its power-cycle cell is "-". nvlab-bench lays out a prefix of its own for it (links
// to the measured nvlab's files, that plugin as nvlab-plugin.so: nvlab/install_layout.h) and
// removes it at the end.
// Usage: nvlab-bench [--runs N] [--records N] [--configs LIST] [--nvlab PATH]
//   LIST: comma-separated names among off,floor,on,user,all,cold-off,cold-on (default: all
//   seven; "off" is always run, as the ratios' base)

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/install_layout.h"
#include "nvlab/status.h"
#include "timed_run.h"

namespace {

using nvlab::bench::Median;
using Sample = nvlab::bench::TimedRun;

// CommandSeconds reads "command_seconds": X from nvlab's --json output.
double CommandSeconds(const std::string& out) {
  const size_t at = out.rfind("\"command_seconds\":");
  return at == std::string::npos ? -1 : std::atof(out.c_str() + at + 18);
}

// GuestMemory is what the guest of nvlab process `nvlab` costs the host now, in MiB: its QEMU's
// resident memory, and the blocks allocated to the QEMU's first RAM file (mem-path of ram0).
struct GuestMemory {
  double rss = 0;
  double ram_file = 0;
};

GuestMemory MemoryOfGuestOf(pid_t nvlab) {
  GuestMemory m;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return m;
  while (const dirent* e = readdir(proc)) {
    const std::string pid = e->d_name;
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    if (close == std::string::npos || text.find("(qemu-system") == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid != nvlab) continue;
    std::ifstream status("/proc/" + pid + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("VmRSS:")) m.rss = std::atof(line.c_str() + 6) / 1024;
    }
    std::ifstream cmdline("/proc/" + pid + "/cmdline");
    for (std::string arg; std::getline(cmdline, arg, '\0');) {
      const size_t at = arg.find("id=ram0,");
      const size_t path = arg.find("mem-path=");
      if (at == std::string::npos || path == std::string::npos) continue;
      struct stat st {};
      if (::stat(arg.substr(path + 9, arg.find(',', path) - path - 9).c_str(), &st) == 0) {
        m.ram_file = static_cast<double>(st.st_blocks) * 512 / (1 << 20);
      }
    }
  }
  closedir(proc);
  return m;
}

// A Config is one way of running the lab: the options every nvlab call of the row gets.
struct Config {
  const char* key;  // --configs name
  const char* name;
  const char* ratio_name;  // the ratio column's heading
  std::vector<std::string> options;
  bool floor = false;  // Run the floor prefix's nvlab (FloorPrefix); no power-cycle.
};

// FloorPrefix lays out, in a new folder, an install prefix (nvlab/install_layout.h) whose
// nvlab is `nvlab` (a hard link, else a copy: nvlab finds its files from /proc/self/exe) and
// whose files are links to that install's, but for the plugin, a link to `plugin`. Returns the
// folder and sets *floor_nvlab to the nvlab in it; or returns "" with *error set.
std::string FloorPrefix(const std::string& nvlab, const std::string& plugin,
                        std::string* floor_nvlab, std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::canonical(nvlab, ec);
  nvlab::InstallLayout real;
  if (ec) {
    *error = nvlab + ": " + ec.message();
    return "";
  }
  if (nvlab::Status status = nvlab::InstallLayout::FromExecutablePath(exe, &real); !status.ok()) {
    *error = status.message();
    return "";
  }
  if (!fs::exists(plugin)) {
    *error = plugin + " is missing (built with nvlab-bench)";
    return "";
  }
  std::string folder = (fs::temp_directory_path() / "nvlab-bench-floor.XXXXXX").string();
  if (mkdtemp(folder.data()) == nullptr) {
    *error = "mkdtemp " + folder + " failed";
    return "";
  }
  const nvlab::InstallLayout floor = nvlab::InstallLayout::FromPrefix(folder);
  const fs::path floor_exe = floor.prefix / exe.lexically_relative(real.prefix);
  const std::pair<fs::path, fs::path> links[] = {
      {fs::absolute(plugin), floor.plugin},          {real.emulator, floor.emulator},
      {real.guest_tools_dir, floor.guest_tools_dir}, {real.guest_data_dir, floor.guest_data_dir},
      {real.machines_dir, floor.machines_dir},
  };
  fs::create_directories(floor_exe.parent_path(), ec);
  if (!ec) {
    fs::create_hard_link(exe, floor_exe, ec);
    if (ec) fs::copy_file(exe, floor_exe, ec);
  }
  for (const auto& [target, link] : links) {
    if (!ec) fs::create_directories(link.parent_path(), ec);
    if (!ec) fs::create_symlink(target, link, ec);
  }
  if (ec) {
    *error = "cannot lay out " + folder + ": " + ec.message();
    fs::remove_all(folder, ec);
    return "";
  }
  *floor_nvlab = floor_exe.string();
  return folder;
}

// Measures are the figures of one configuration (medians).
struct Measures {
  double first = 0, run = 0, cycle = 0, whole = 0, command = 0, run_cpu = 0, whole_cpu = 0,
         whole_user_cpu = 0, rss = 0, ram_file = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  int records = 20000;
  std::string nvlab;
  std::string wanted = "off,floor,on,user,all,cold-off,cold-on";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--records" && i + 1 < argc) {
      records = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--nvlab" && i + 1 < argc) {
      nvlab = argv[++i];
    } else if (a == "--configs" && i + 1 < argc) {
      wanted = argv[++i];
    } else {
      (void)std::fprintf(stderr,
                         "usage: nvlab-bench [--runs N] [--records N] "
                         "[--configs off,floor,on,user,all,cold-off,cold-on] [--nvlab PATH]\n");
      return 2;
    }
  }
  char self[4096];
  const ssize_t self_size = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (self_size <= 0) return 1;
  self[self_size] = '\0';
  const std::string bench_dir = std::string(self).substr(0, std::string(self).rfind('/'));
  if (nvlab.empty()) nvlab = bench_dir + "/nvlab";
  const std::string workload =
      "nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --count " +
      std::to_string(records) + " >/dev/null";
  const std::vector<Config> known = {
      {"off", "model off", "", {"--model", "off"}},
      {"floor", "plugin floor", "floor/off", {"--model", "on"}, true},
      {"on", "model on", "on/off", {"--model", "on"}},
      {"user", "on+trace user", "user/off", {"--model", "on", "--trace-stores", "user"}},
      {"all", "on+trace on", "all/off", {"--model", "on", "--trace-stores", "on"}},
      {"cold-off", "cold, off", "cold/off", {"--model", "off", "--cold"}},
      {"cold-on", "cold, on", "cold on/off", {"--model", "on", "--cold"}},
  };
  std::vector<Config> configs;
  for (const Config& c : known) {
    if (std::string(c.key) == "off" ||
        ("," + wanted + ",").find(std::string(",") + c.key + ",") != std::string::npos) {
      configs.push_back(c);
    }
  }
  std::string floor_prefix;
  std::string floor_nvlab;
  if (std::any_of(configs.begin(), configs.end(), [](const Config& c) { return c.floor; })) {
    std::string error;
    floor_prefix =
        FloorPrefix(nvlab, bench_dir + "/../libexec/nvlab-bench/translation-only-plugin.so",
                    &floor_nvlab, &error);
    if (floor_prefix.empty()) {
      (void)std::fprintf(stderr, "nvlab-bench: floor: %s\n", error.c_str());
      return 1;
    }
  }
  // Samples per configuration, one a round: the figures Measures holds, before their medians.
  struct Samples {
    std::vector<double> first, run, cycle, whole, command, run_cpu, whole_cpu, whole_user_cpu, rss,
        ram_file;
  };
  std::vector<Samples> samples(configs.size());
  for (int i = 0; i < runs; ++i) {
    for (size_t k = 0; k < configs.size(); ++k) {
      // Each round starts one configuration further on: a run pays for what the one before it
      // left (memory the host took back: docs/design/platform.md), so no configuration may
      // always follow the same one.
      const size_t c = (static_cast<size_t>(i) + k) % configs.size();
      const Config& config = configs[c];
      const std::string command = config.floor ? floor_nvlab : nvlab;
      auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
        head.insert(head.end(), config.options.begin(), config.options.end());
        head.insert(head.end(), tail.begin(), tail.end());
        return head;
      };
      // Every measured run must succeed: a failure prints nvlab's stderr and ends the bench.
      GuestMemory memory;
      auto measured = [&](const std::vector<std::string>& args) {
        Sample s = nvlab::bench::RunTimed(args, [&](pid_t pid) { memory = MemoryOfGuestOf(pid); });
        if (s.status != 0) {
          (void)std::fprintf(stderr, "nvlab-bench: %s: '%s ...' failed (exit %d):\n%s\n",
                             config.name, args[1].c_str(), s.status, s.err.c_str());
          if (!floor_prefix.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(floor_prefix, ec);
          }
          std::exit(1);
        }
        return s;
      };
      Sample s = measured(with({command, "run"}, {"--", "echo first"}));
      Samples& out = samples[c];
      out.first.push_back(s.first_output);
      out.rss.push_back(memory.rss);
      out.ram_file.push_back(memory.ram_file);
      s = measured(with({command, "run"}, {"--", "true"}));
      out.run.push_back(s.total);
      out.run_cpu.push_back(s.cpu);
      // The floor's plugin cannot cut the power: no power-cycle (-1 prints "-").
      out.cycle.push_back(config.floor ? -1
                                       : measured(with({command, "power-cycle"},
                                                       {"--before", "true", "--after", "true"}))
                                             .total);
      s = measured(with({command, "run", "--json"}, {"--", workload}));
      out.whole.push_back(s.total);
      out.whole_cpu.push_back(s.cpu);
      out.whole_user_cpu.push_back(s.user_cpu);
      out.command.push_back(CommandSeconds(s.out));
      (void)std::fprintf(stderr, "nvlab-bench: round %d of %d: %s done\n", i + 1, runs,
                         config.name);
    }
  }
  std::vector<Measures> measures;
  measures.reserve(samples.size());
  for (const Samples& s : samples) {
    measures.push_back({Median(s.first), Median(s.run), Median(s.cycle), Median(s.whole),
                        Median(s.command), Median(s.run_cpu), Median(s.whole_cpu),
                        Median(s.whole_user_cpu), Median(s.rss), Median(s.ram_file)});
  }
  std::printf("nvlab-bench: medians of %d runs, TCG, workload = %d flushed+drained records\n", runs,
              records);
  std::printf("%-24s", "measure (s)");
  for (const Config& c : configs) std::printf(" %14s", c.name);
  for (size_t c = 1; c < configs.size(); ++c) std::printf(" %9s", configs[c].ratio_name);
  std::printf("\n");
  const struct {
    const char* name;
    double Measures::*field;
  } kRows[] = {{"first output", &Measures::first},
               {"run -- true", &Measures::run},
               {"power-cycle", &Measures::cycle},
               {"workload: whole run", &Measures::whole},
               {"workload: command", &Measures::command},
               {"run -- true: host CPU", &Measures::run_cpu},
               {"workload: host CPU", &Measures::whole_cpu},
               {"workload: user CPU", &Measures::whole_user_cpu},
               {"QEMU RSS (MiB)", &Measures::rss},
               {"RAM file (MiB)", &Measures::ram_file}};
  for (const auto& row : kRows) {
    std::printf("%-24s", row.name);
    for (const Measures& m : measures) {
      if (m.*row.field < 0) {
        std::printf(" %14s", "-");
      } else {
        std::printf(" %14.2f", m.*row.field);
      }
    }
    const double off = measures[0].*row.field;
    for (size_t c = 1; c < measures.size(); ++c) {
      if (off > 0 && measures[c].*row.field >= 0) {
        std::printf(" %8.2fx", measures[c].*row.field / off);
      } else {
        std::printf(" %9s", "-");
      }
    }
    std::printf("\n");
  }
  if (!floor_prefix.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(floor_prefix, ec);
  }
  return 0;
}
