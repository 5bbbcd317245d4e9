// machine.cc -- machine definitions: ParseMachine, LoadMachine, ResolveMachine, sizes.

#include "nvlab/machine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sstream>

namespace nvlab {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kNvdimmRegionStart = 4 * kGiB;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool ParseInt(std::string_view text, int min, int max, int* out) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

uint64_t RoundUp(uint64_t value, uint64_t align) {
  return (value + align - 1) / align * align;
}

}  // namespace

const char* ToString(NamespaceMode mode) {
  switch (mode) {
    case NamespaceMode::kDevdax:
      return "devdax";
    case NamespaceMode::kFsdax:
      return "fsdax";
    case NamespaceMode::kRaw:
      return "raw";
  }
  return "?";
}
const char* ToString(Persistence persistence) {
  return persistence == Persistence::kAdr ? "adr" : "eadr";
}
const char* ToString(FileSystem fs) {
  return fs == FileSystem::kExt4 ? "ext4" : "xfs";
}

bool ParseNamespaceMode(std::string_view text, NamespaceMode* out) {
  for (NamespaceMode m : {NamespaceMode::kDevdax, NamespaceMode::kFsdax, NamespaceMode::kRaw}) {
    if (text == ToString(m)) return *out = m, true;
  }
  return false;
}
bool ParsePersistence(std::string_view text, Persistence* out) {
  for (Persistence p : {Persistence::kAdr, Persistence::kEadr}) {
    if (text == ToString(p)) return *out = p, true;
  }
  return false;
}
bool ParseFileSystem(std::string_view text, FileSystem* out) {
  for (FileSystem f : {FileSystem::kExt4, FileSystem::kXfs}) {
    if (text == ToString(f)) return *out = f, true;
  }
  return false;
}

bool ParseSize(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t unit = 1;
  switch (text.back()) {
    case 'K':
    case 'k':
      unit = 1ull << 10;
      break;
    case 'M':
    case 'm':
      unit = 1ull << 20;
      break;
    case 'G':
    case 'g':
      unit = 1ull << 30;
      break;
    case 'T':
    case 't':
      unit = 1ull << 40;
      break;
    default:
      break;
  }
  if (unit != 1) text.remove_suffix(1);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value == 0) return false;
  if (value > UINT64_MAX / unit) return false;
  *out = value * unit;
  return true;
}

std::string FormatSize(uint64_t bytes) {
  static constexpr struct {
    uint64_t unit;
    char suffix;
  } kUnits[] = {{1ull << 40, 'T'}, {1ull << 30, 'G'}, {1ull << 20, 'M'}, {1ull << 10, 'K'}};
  for (const auto& u : kUnits) {
    if (bytes != 0 && bytes % u.unit == 0) return std::to_string(bytes / u.unit) + u.suffix;
  }
  return std::to_string(bytes);
}

std::string NvdimmSizeProblem(uint64_t size) {
  if (size == 0 || size % kNvdimmSizeAlignment != 0) return "must be a multiple of 2M";
  if (size > kMaxNvdimmSize) return "larger than 64G";
  return "";
}

bool IsValidCpuModel(std::string_view text) {
  if (text.empty() || text.size() > kMaxCpuModelLength || text == "help") return false;
  const auto alphanumeric = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alphanumeric(text.front())) return false;
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return alphanumeric(c) || c == '_' || c == '.' || c == '-'; });
}

bool ParseCpuFeatures(std::string_view text, std::vector<CpuFeatureChange>* out,
                      std::string* problem) {
  std::vector<CpuFeatureChange> changes;
  if (text == "none") {
    *out = std::move(changes);
    return true;
  }
  const auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  const auto name_char = [&](char c) { return lower_alnum(c) || c == '_' || c == '.' || c == '-'; };
  size_t at = 0;
  while (at < text.size()) {
    if (text[at] == ' ' || text[at] == '\t') {
      ++at;
      continue;
    }
    size_t end = at;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    const std::string_view word = text.substr(at, end - at);
    at = end;
    const std::string_view name = word.substr(1);
    if ((word.front() != '+' && word.front() != '-') || name.empty() ||
        name.size() > kMaxCpuFeatureLength || !lower_alnum(name.front()) ||
        !std::all_of(name.begin(), name.end(), name_char)) {
      *problem = "word " + std::to_string(changes.size() + 1) +
                 " is not +name or -name (a QEMU feature name: a-z, 0-9, '_', '.', '-', at most " +
                 std::to_string(kMaxCpuFeatureLength) + " bytes) and the value is not none";
      return false;
    }
    for (const CpuFeatureChange& c : changes) {
      if (c.name == name) {
        *problem = "feature " + std::string(name) + " named twice";
        return false;
      }
    }
    if (changes.size() == kMaxCpuFeatures) {
      *problem = "more than " + std::to_string(kMaxCpuFeatures) + " features";
      return false;
    }
    changes.push_back(CpuFeatureChange{std::string(name), word.front() == '+'});
  }
  if (changes.empty()) {
    *problem = "expected none or +name/-name words";
    return false;
  }
  *out = std::move(changes);
  return true;
}

uint64_t Machine::NvdimmBase(size_t i) const {
  uint64_t base = kNvdimmRegionStart;
  for (size_t k = 0; k < i && k < nvdimms.size(); ++k) base = RoundUp(base + nvdimms[k].size, kGiB);
  return base;
}

uint64_t Machine::MaxMemory() const {
  // QEMU's pc machine sizes its device-memory region as maxmem - RAM plus 1 GiB per slot of
  // alignment slack; nvlab's explicit bases need at most that.
  uint64_t end = NvdimmBase(nvdimms.size());
  return memory + (end - kNvdimmRegionStart);
}

Status ParseMachine(std::string_view text, const std::filesystem::path& source, Machine* out) {
  Machine m;
  m.source = source;
  m.nvdimms.clear();
  bool in_nvdimm = false;
  std::string name = source.empty() ? "<machine>" : source.string();
  int line_no = 0;
  std::istringstream in{std::string(text)};
  std::string raw;
  auto error = [&](std::string_view field, std::string_view problem) {
    return Status::InvalidArgument(name + ":" + std::to_string(line_no) + ": " +
                                   std::string(field) + ": " + std::string(problem));
  };
  while (std::getline(in, raw)) {
    ++line_no;
    std::string_view line = raw;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line != "[nvdimm]") return error(line, "unknown section (only [nvdimm] exists)");
      if (m.nvdimms.size() == kMaxNvdimms) return error("[nvdimm]", "at most 8 NVDIMMs");
      in_nvdimm = true;
      m.nvdimms.emplace_back();
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return error(line, "expected 'key = value'");
    const std::string_view key = Trim(line.substr(0, eq));
    const std::string_view value = Trim(line.substr(eq + 1));
    if (key.empty()) return error("?", "missing key before '='");
    if (value.empty()) return error(key, "missing value");
    if (in_nvdimm) {
      Nvdimm& d = m.nvdimms.back();
      if (key == "size") {
        if (!ParseSize(value, &d.size)) return error(key, "not a size (e.g. 256M)");
        if (const std::string problem = NvdimmSizeProblem(d.size); !problem.empty()) {
          return error(key, problem);
        }
      } else if (key == "node") {
        if (!ParseInt(value, 0, 63, &d.node)) return error(key, "not a NUMA node number");
      } else if (key == "label-size") {
        if (value == "0") {
          d.label_size = 0;
        } else if (!ParseSize(value, &d.label_size) || d.label_size < 128ull * 1024) {
          return error(key, "0 (no labels) or a size of at least 128K");
        }
      } else {
        return error(key, "unknown field in [nvdimm] (size, node, label-size)");
      }
      continue;
    }
    if (key == "name") {
      m.name = value;
    } else if (key == "vcpus") {
      if (!ParseInt(value, 1, 64, &m.vcpus)) return error(key, "not a number from 1 to 64");
    } else if (key == "memory") {
      if (!ParseSize(value, &m.memory)) return error(key, "not a size (e.g. 512M)");
      if (m.memory < 128 * kMiB || m.memory > 3 * kGiB) {
        return error(key, "must be from 128M to 3G (NVDIMMs are placed at 4G)");
      }
    } else if (key == "numa-nodes") {
      if (!ParseInt(value, 1, 8, &m.numa_nodes)) return error(key, "not a number from 1 to 8");
    } else if (key == "cpu") {
      if (!IsValidCpuModel(value)) {
        return error(key,
                     "not a QEMU CPU model name (letters, digits, '_', '.', '-'; no comma: "
                     "features are not set here)");
      }
      m.cpu = value;
    } else if (key == "cpu-features") {
      std::string problem;
      if (!ParseCpuFeatures(value, &m.cpu_features, &problem)) return error(key, problem);
    } else if (key == "persistence") {
      if (!ParsePersistence(value, &m.persistence)) return error(key, "expected adr or eadr");
    } else if (key == "namespace") {
      if (!ParseNamespaceMode(value, &m.namespace_mode)) {
        return error(key, "expected devdax, fsdax or raw");
      }
    } else if (key == "filesystem") {
      if (!ParseFileSystem(value, &m.filesystem)) return error(key, "expected ext4 or xfs");
    } else {
      return error(
          key,
          "unknown field (name, vcpus, memory, numa-nodes, cpu, cpu-features, persistence, "
          "namespace, "
          "filesystem, or an [nvdimm] section)");
    }
  }
  ++line_no;
  if (m.nvdimms.empty()) return error("[nvdimm]", "a machine needs at least one NVDIMM");
  for (const Nvdimm& d : m.nvdimms) {
    if (d.node >= m.numa_nodes) {
      return error("node", "NVDIMM on node " + std::to_string(d.node) + " but numa-nodes is " +
                               std::to_string(m.numa_nodes));
    }
  }
  if (m.memory % (static_cast<uint64_t>(m.numa_nodes) * 2 * kMiB) != 0) {
    return error("memory", "must split evenly into 2M-aligned parts across the NUMA nodes");
  }
  *out = std::move(m);
  return Status::Ok();
}

Status LoadMachine(const std::filesystem::path& file, Machine* out) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked before reading.
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound("cannot read machine definition " + file.string());
    return Status::IoErrorFromErrno("cannot read machine definition " + file.string(), err);
  }
  std::string text;
  struct stat st {};
  Status status = Status::Ok();
  if (fstat(fd, &st) != 0) {
    status = Status::IoErrorFromErrno("cannot read machine definition " + file.string(), errno);
  } else if (!S_ISREG(st.st_mode)) {
    status = Status::InvalidArgument(file.string() + ": not a regular file");
  } else if (static_cast<uint64_t>(st.st_size) > kMaxMachineFileBytes) {
    status = Status::InvalidArgument(file.string() + ": too large (" + std::to_string(st.st_size) +
                                     " bytes; a machine file has "
                                     "at most " +
                                     std::to_string(kMaxMachineFileBytes) + ")");
  } else {
    // One byte more than the limit: a file that grew since fstat is still refused.
    text.resize(kMaxMachineFileBytes + 1);
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = Status::IoErrorFromErrno("cannot read machine definition " + file.string(), errno);
        break;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
    if (status.ok() && got > kMaxMachineFileBytes) {
      status = Status::InvalidArgument(file.string() + ": too large (a machine file has at most " +
                                       std::to_string(kMaxMachineFileBytes) + " bytes)");
    }
  }
  close(fd);
  if (!status.ok()) return status;
  return ParseMachine(text, file, out);
}

Status ResolveMachine(std::string_view name_or_file, const std::filesystem::path& machines_dir,
                      std::filesystem::path* file) {
  namespace fs = std::filesystem;
  const std::string arg(name_or_file);
  if (arg.find('/') != std::string::npos || arg.ends_with(".machine")) {
    std::error_code ec;
    if (!fs::is_regular_file(arg, ec)) return Status::NotFound("no machine file " + arg);
    *file = arg;
    return Status::Ok();
  }
  const fs::path candidate = machines_dir / (arg + ".machine");
  std::error_code ec;
  if (fs::is_regular_file(candidate, ec)) {
    *file = candidate;
    return Status::Ok();
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(machines_dir, ec)) {
    if (entry.path().extension() == ".machine") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  return Status::NotFound("no machine named '" + arg + "' in " + machines_dir.string() +
                          " (available: " + (list.empty() ? "none" : list) + ")");
}

}  // namespace nvlab
