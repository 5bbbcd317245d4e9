// File: nvlab/machine.h
//
// A Machine is a lab guest's hardware: CPUs, RAM, NUMA nodes and NVDIMMs, plus how the guest
// sets its NVDIMMs up (namespace mode, file system) and what persistence domain the platform
// reports. Machines are read from `.machine` files in qemu-configs/ (qemu-configs/README.md is the
// schema); one definition generates the QEMU command line (nvlab/qemu_command_line.h) and, later,
// libvirt domain XML.
//
// File format: lines of `key = value`, `#` comments, and `[nvdimm]` sections (one per NVDIMM, in
// order). Sizes take K, M, G suffixes (binary). Every error names the place:
// `FILE:LINE: field: problem`. A machine file is the user's text and reaches QEMU's command line
// and libvirt's XML: values are checked against a strict grammar (docs/formats/machine.md), and
// the limits below apply to the command line's overrides (`--nvdimm`) as to the file.
//
// Thread-safety: plain values.

#ifndef NVLAB_MACHINE_H_
#define NVLAB_MACHINE_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab {

// NamespaceMode is how the guest's init sets up each NVDIMM region.
enum class NamespaceMode { kDevdax, kFsdax, kRaw };
// Persistence is the platform's persistence domain (QEMU's nvdimm-persistence).
enum class Persistence { kAdr, kEadr };
enum class FileSystem { kExt4, kXfs };

const char* ToString(NamespaceMode mode);
const char* ToString(Persistence persistence);
const char* ToString(FileSystem fs);
bool ParseNamespaceMode(std::string_view text, NamespaceMode* out);
bool ParsePersistence(std::string_view text, Persistence* out);
bool ParseFileSystem(std::string_view text, FileSystem* out);

// ParseSize reads "256M", "1G", "4096" (bytes). False on junk, zero or overflow.
bool ParseSize(std::string_view text, uint64_t* out);
// FormatSize gives the shortest exact form ("256M", "1G", "1536K", "100").
std::string FormatSize(uint64_t bytes);

// Limits of a machine, shared by the file parser and the command line's overrides.
inline constexpr size_t kMaxNvdimms = 8;
inline constexpr uint64_t kMaxNvdimmSize = 64ull << 30;
inline constexpr uint64_t kNvdimmSizeAlignment = 2ull << 20;
inline constexpr size_t kMaxMachineFileBytes = 1 << 20;
inline constexpr size_t kMaxCpuModelLength = 64;
inline constexpr size_t kMaxCpuFeatures = 32;
inline constexpr size_t kMaxCpuFeatureLength = 32;

// NvdimmSizeProblem says what is wrong with an NVDIMM size ("must be a multiple of 2M",
// "larger than 64G"); empty when it is a valid size.
std::string NvdimmSizeProblem(uint64_t size);

// IsValidCpuModel says whether text may be a machine's `cpu`: a plain QEMU CPU model name, 1 to
// kMaxCpuModelLength of [A-Za-z0-9_.-] starting with a letter or a digit, and not "help" (which
// makes QEMU list its models and exit). A comma or '=' would add options to QEMU's -cpu value,
// so a feature list (`max,+foo`) is refused; libvirt's <model> takes the same names.
bool IsValidCpuModel(std::string_view text);

// CpuFeatureChange is one `cpu-features` word: `+name` turns a CPUID feature on, `-name` off.
struct CpuFeatureChange {
  std::string name;  // a QEMU and libvirt feature name: [a-z0-9][a-z0-9_.-]*, at most 32 bytes
  bool enable = false;

  bool operator==(const CpuFeatureChange&) const = default;
};

// ParseCpuFeatures reads a `cpu-features` value: `none`, or 1 to kMaxCpuFeatures words `+name` /
// `-name` separated by blank space, each name at most once. On a bad value it returns false and
// says why in *problem.
bool ParseCpuFeatures(std::string_view text, std::vector<CpuFeatureChange>* out,
                      std::string* problem);

struct Nvdimm {
  uint64_t size = 256ull << 20;  // bytes; a multiple of 2 MiB
  int node = 0;                  // NUMA node it belongs to
  uint64_t label_size = 0;       // bytes of label area; 0: no labels (namespace without labels)
};

struct Machine {
  std::string name = "default";
  std::filesystem::path source;  // the file it came from ("" for built-in values)
  int vcpus = 2;
  uint64_t memory = 512ull << 20;  // guest RAM, split evenly across NUMA nodes
  int numa_nodes = 1;
  std::string cpu = "max";  // -cpu max: other models make CLWB/CLFLUSHOPT illegal under TCG
  // Changes to the model's CPUID features (TCG only; KVM guests get -cpu host), in file order:
  // e.g. `-clwb` makes a guest whose flushes fall back to CLFLUSHOPT.
  std::vector<CpuFeatureChange> cpu_features;
  Persistence persistence = Persistence::kAdr;
  NamespaceMode namespace_mode = NamespaceMode::kDevdax;
  FileSystem filesystem = FileSystem::kExt4;
  std::vector<Nvdimm> nvdimms{Nvdimm{}};

  // NvdimmBase is the guest-physical address nvlab assigns to NVDIMM i: the first at 4 GiB
  // (above RAM), each next one at the following 1 GiB boundary.
  uint64_t NvdimmBase(size_t i) const;
  // MaxMemory is the -m maxmem value that leaves room for every NVDIMM at those bases.
  uint64_t MaxMemory() const;
};

// ParseMachine reads a definition from text; `source` names it in errors.
Status ParseMachine(std::string_view text, const std::filesystem::path& source, Machine* out);

// LoadMachine reads a definition file: a regular file of at most kMaxMachineFileBytes, checked
// before its content is read (a FIFO, a device or a huge file is refused, never read).
Status LoadMachine(const std::filesystem::path& file, Machine* out);

// ResolveMachine turns `--machine NAME|FILE` into a file: an existing path (anything with a '/'
// or ending in .machine) is used as is; a bare NAME is looked up as NAME.machine in
// `machines_dir`. NotFound lists the available names.
Status ResolveMachine(std::string_view name_or_file, const std::filesystem::path& machines_dir,
                      std::filesystem::path* file);

}  // namespace nvlab

#endif  // NVLAB_MACHINE_H_
