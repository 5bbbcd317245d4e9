// nvlab_fleet_bench.cc -- nvlab-fleet-bench: what a lab host sustains with libvirt guests, and
// what libvirt costs, printed side by side in one run (BENCHMARKS.md, section "Fleets"):
//
//   power-cycle      `nvlab power-cycle --before true --after true` with nvlab's own launcher
//                    (two boots: the guest starts for the first command) and with `--domain` on
//                    a running libvirt domain (one boot: cut, destroy, start, boot); and, to
//                    compare one boot with one boot, the launcher's `nvlab run -- true` (boot,
//                    command, power-off); alternating, medians of N, and the ratios
//   guests per host  for K long-lived libvirt guests (K in --guests, and 0 as the baseline):
//                    the median time of `nvlab run --domain -- true` on one of them, the host's
//                    CPU busy share while they idle (10 s from /proc/stat), and their QEMUs'
//                    resident memory
//
// Needs root, a running libvirtd (qemu:///system; playbooks/lab-host.yml or
// docs/design/libvirt.md say how) and nvlab installed under a prefix that libvirt-qemu can read
// (cmake --install ... --prefix /usr/local). Domains are named nvlab-bench-N and removed after.
// Usage: nvlab-fleet-bench --prefix DIR [--runs N] [--guests 1,2,4] [--work DIR]

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "count_list.h"
#include "timed_run.h"

namespace {

namespace fs = std::filesystem;
using nvlab::bench::Median;
using nvlab::bench::RunTimed;
using nvlab::bench::TimedRun;

constexpr const char* kUri = "qemu:///system";

[[noreturn]] void Die(const std::string& what, const TimedRun& run) {
  (void)std::fprintf(stderr, "nvlab-fleet-bench: %s failed (exit %d):\n%s%s\n", what.c_str(),
                     run.status, run.out.c_str(), run.err.c_str());
  std::exit(1);
}

TimedRun Must(const std::string& what, const std::vector<std::string>& argv) {
  TimedRun run = RunTimed(argv);
  if (run.status != 0) Die(what, run);
  return run;
}

std::string DomainName(int i) {
  return "nvlab-bench-" + std::to_string(i);
}

// Fleet defines and starts domains from `nvlab machine --libvirt-xml`, and removes them.
class Fleet {
 public:
  Fleet(std::string nvlab, fs::path work) : nvlab_(std::move(nvlab)), work_(std::move(work)) {}
  ~Fleet() { RemoveAll(); }

  void Start(int i) {
    const std::string name = DomainName(i);
    const TimedRun xml = Must("nvlab machine --libvirt-xml",
                              {nvlab_, "machine", "default", "--libvirt-xml", "--domain-name", name,
                               "--domain-dir", (work_ / name).string()});
    const fs::path file = work_ / (name + ".xml");
    std::ofstream(file) << xml.out;
    Must("virsh define", {"virsh", "-c", kUri, "define", file.string()});
    Must("virsh start", {"virsh", "-c", kUri, "start", name});
    started_.push_back(i);
  }

  // WaitReady waits until the domain's agent answers.
  void WaitReady(int i) {
    Must("waiting for " + DomainName(i),
         {nvlab_, "run", "--domain", DomainName(i), "--timeout", "300", "--", "true"});
  }

  void RemoveAll() {
    for (int i : started_) {
      (void)RunTimed({"virsh", "-c", kUri, "destroy", DomainName(i)});
      (void)RunTimed({"virsh", "-c", kUri, "undefine", DomainName(i)});
    }
    started_.clear();
  }

  const std::vector<int>& started() const { return started_; }

 private:
  std::string nvlab_;
  fs::path work_;
  std::vector<int> started_;
};

// CpuBusyShare samples /proc/stat over `seconds`: the share of all CPUs' time not idle.
double CpuBusyShare(int seconds) {
  auto read = [](long long* busy, long long* total) {
    std::ifstream in("/proc/stat");
    std::string cpu;
    long long v[10] = {};
    in >> cpu;
    for (long long& x : v) in >> x;
    *total = 0;
    for (long long x : v) *total += x;
    *busy = *total - v[3] - v[4];  // idle, iowait
  };
  long long b0 = 0, t0 = 0, b1 = 0, t1 = 0;
  read(&b0, &t0);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  read(&b1, &t1);
  return t1 > t0 ? static_cast<double>(b1 - b0) / static_cast<double>(t1 - t0) : 0;
}

// QemuResidentMiB sums VmRSS of the domains' QEMUs (pid files libvirt keeps).
double QemuResidentMiB(const std::vector<int>& domains) {
  double kib = 0;
  for (int i : domains) {
    std::ifstream pid_file("/run/libvirt/qemu/" + DomainName(i) + ".pid");
    std::string pid;
    pid_file >> pid;
    std::ifstream status("/proc/" + pid + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("VmRSS:")) kib += std::atof(line.c_str() + 6);
    }
  }
  return kib / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::string prefix;
  std::vector<int> guest_counts = {1, 2, 4};
  fs::path work = "/var/tmp/nvlab-fleet-bench";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--prefix" && i + 1 < argc) {
      prefix = argv[++i];
    } else if (a == "--guests" && i + 1 < argc) {
      guest_counts = nvlab::bench::ParseCountList(argv[++i]);
    } else if (a == "--work" && i + 1 < argc) {
      work = argv[++i];
    } else {
      prefix.clear();
      break;
    }
  }
  if (prefix.empty() || guest_counts.empty()) {
    (void)std::fprintf(stderr,
                       "usage: nvlab-fleet-bench --prefix DIR [--runs N] [--guests 1,2,4] "
                       "[--work DIR]\n");
    return 2;
  }
  const std::string nvlab = prefix + "/bin/nvlab";
  std::error_code ec;
  fs::create_directories(work, ec);
  Must("virsh version (is libvirtd running?)", {"virsh", "-c", kUri, "version"});

  // Power-cycle: nvlab's launcher and a libvirt domain, alternating.
  std::vector<double> launcher, launcher_run, domain;
  {
    Fleet fleet(nvlab, work);
    fleet.Start(1);
    fleet.WaitReady(1);
    for (int r = 0; r < runs; ++r) {
      launcher.push_back(
          Must("power-cycle", {nvlab, "power-cycle", "--before", "true", "--after", "true"}).total);
      launcher_run.push_back(Must("run", {nvlab, "run", "--", "true"}).total);
      domain.push_back(
          Must("power-cycle --domain", {nvlab, "power-cycle", "--domain", DomainName(1), "--before",
                                        "true", "--after", "true"})
              .total);
      (void)std::fprintf(stderr, "nvlab-fleet-bench: power-cycle round %d of %d done\n", r + 1,
                         runs);
    }
  }

  // Guests per host.
  struct Row {
    int guests;
    double run, busy, rss;
  };
  std::vector<Row> rows;
  guest_counts.insert(guest_counts.begin(), 0);
  for (int k : guest_counts) {
    Fleet fleet(nvlab, work);
    for (int i = 1; i <= k; ++i) fleet.Start(i);
    for (int i = 1; i <= k; ++i) fleet.WaitReady(i);
    // The agents answer before the last boot work (udev, module loading) has quietened.
    std::this_thread::sleep_for(std::chrono::seconds(10));
    const double busy = CpuBusyShare(10);
    std::vector<double> run;
    for (int r = 0; r < runs && k > 0; ++r) {
      run.push_back(
          Must("run --domain", {nvlab, "run", "--domain", DomainName(1), "--", "true"}).total);
    }
    rows.push_back({k, Median(run), busy, QemuResidentMiB(fleet.started())});
    (void)std::fprintf(stderr, "nvlab-fleet-bench: %d guests done\n", k);
  }

  std::printf("nvlab-fleet-bench: medians of %d runs, TCG, machine default\n", runs);
  std::printf("%-40s %10s %10s %8s\n", "seconds", "launcher", "--domain", "ratio");
  const double l = Median(launcher), lr = Median(launcher_run), d = Median(domain);
  std::printf("%-40s %10.2f %10.2f %7.2fx\n", "power-cycle --before true --after true", l, d,
              l > 0 ? d / l : 0);
  std::printf("%-40s %10.2f %10.2f %7.2fx\n", "one boot: run -- true / power-cycle", lr, d,
              lr > 0 ? d / lr : 0);
  std::printf("%-10s %18s %16s %18s\n", "guests", "run --domain (s)", "CPU busy (idle)",
              "QEMU RSS (MiB)");
  for (const Row& row : rows) {
    if (row.guests == 0) {
      std::printf("%-10d %18s %15.0f%% %18s\n", 0, "-", row.busy * 100, "-");
    } else {
      std::printf("%-10d %18.2f %15.0f%% %18.0f\n", row.guests, row.run, row.busy * 100, row.rss);
    }
  }
  return 0;
}
