// machine_fuzzer.cc -- libFuzzer target over the machine-definition parser (nvlab/machine.h):
// a user's .machine file, whose values reach QEMU's command line.
// Checks, besides ASan/UBSan: a machine that parses is within the documented limits (vCPUs,
// RAM, NUMA nodes, 1 to 8 NVDIMMs of a multiple of 2M up to 64G each); its CPU model is one
// QEMU reads as a model and nothing else (no ',', '=' or "help"); its sizes survive
// FormatSize -> ParseSize; the NVDIMM bases are 1 GiB aligned and do not overlap; the QEMU
// command line renders with exactly one "-cpu" whose value is the model and its feature
// changes (name=on|off, names of the documented grammar).
//
// Run: build/fuzz/fuzz/lab/machine_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/machine.h"
#include "nvlab/qemu_command_line.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  (void)std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

void CheckSize(uint64_t size) {
  uint64_t read = 0;
  if (!nvlab::ParseSize(nvlab::FormatSize(size), &read) || read != size) {
    Fail("FormatSize does not read back: " + nvlab::FormatSize(size));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nvlab::Machine m;
  if (!nvlab::ParseMachine(text, "fuzz.machine", &m).ok()) return 0;
  if (m.vcpus < 1 || m.vcpus > 64 || m.numa_nodes < 1 || m.numa_nodes > 8 ||
      m.memory < (128u << 20) || m.memory > (3ull << 30)) {
    Fail("a machine outside the limits");
  }
  if (m.nvdimms.empty() || m.nvdimms.size() > nvlab::kMaxNvdimms) Fail("NVDIMM count");
  if (!nvlab::IsValidCpuModel(m.cpu) || m.cpu.find_first_of(",= ") != std::string::npos ||
      m.cpu == "help") {
    Fail("a CPU model QEMU would misread: " + m.cpu);
  }
  CheckSize(m.memory);
  uint64_t previous_end = 0;
  for (size_t i = 0; i < m.nvdimms.size(); ++i) {
    const nvlab::Nvdimm& d = m.nvdimms[i];
    if (!nvlab::NvdimmSizeProblem(d.size).empty()) Fail("an NVDIMM size outside the limits");
    if (d.node < 0 || d.node >= m.numa_nodes) Fail("an NVDIMM on no node");
    CheckSize(d.size);
    if (d.label_size != 0) CheckSize(d.label_size);
    const uint64_t base = m.NvdimmBase(i);
    if (base % (1ull << 30) != 0 || base < previous_end) Fail("NVDIMM bases overlap");
    previous_end = base + d.size;
  }
  if (m.MaxMemory() < m.memory + previous_end - m.NvdimmBase(0)) Fail("maxmem too small");

  nvlab::QemuLaunch launch;
  launch.kernel = "/k";
  launch.initrd = "/i";
  for (int n = 0; n < m.numa_nodes; ++n) launch.ram_files.push_back("/ram" + std::to_string(n));
  for (size_t i = 0; i < m.nvdimms.size(); ++i) {
    launch.nvdimm_files.push_back("/nv" + std::to_string(i));
  }
  // The -cpu value is the model, then one name=on|off option per feature change, each name of
  // the documented grammar: nothing else can reach QEMU's option parser.
  if (m.cpu_features.size() > nvlab::kMaxCpuFeatures) Fail("too many CPU feature changes");
  std::string cpu = m.cpu;
  for (const nvlab::CpuFeatureChange& f : m.cpu_features) {
    if (f.name.empty() || f.name.size() > nvlab::kMaxCpuFeatureLength ||
        f.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") != std::string::npos ||
        f.name.find_first_of("_.-") == 0) {
      Fail("a CPU feature name QEMU would misread: " + f.name);
    }
    cpu += "," + f.name + (f.enable ? "=on" : "=off");
  }
  const std::vector<std::string> argv = nvlab::QemuCommandLine(m, launch);
  int cpus = 0;
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] != "-cpu") continue;
    ++cpus;
    if (argv[i + 1] != cpu) Fail("-cpu is not the model and its feature changes");
  }
  if (cpus != 1) Fail("not exactly one -cpu");
  return 0;
}
