// guest_template.cc -- the template folder's manifest: written at publication, checked at use.

#include "nvlab/guest_template.h"

#include <sys/stat.h>

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "nvlab/file_contents.h"
#include "nvlab/memory_image_file.h"

namespace nvlab {
namespace fs = std::filesystem;

namespace {

std::string Hex(uint64_t value) {
  char buf[17];
  (void)std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

bool ParseHex(const std::string& text, uint64_t* out) {
  if (text.size() != 16) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 16);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool ParseSize(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

uint64_t FileSize(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  return ec ? UINT64_MAX : static_cast<uint64_t>(size);
}

}  // namespace

Status WriteGuestTemplateManifest(const GuestTemplate& t, const std::string& inputs) {
  std::string text = std::string("format=") + kGuestTemplateFormat + "\nkey=" + t.key + "\n";
  text += inputs;
  text += "state.size=" + std::to_string(FileSize(t.state)) +
          "\nstate.checksum=" + Hex(t.state_checksum) + "\n";
  for (size_t i = 0; i < t.ram_files.size(); ++i) {
    const std::string n = std::to_string(i);
    text += "ram" + n + ".size=" + std::to_string(FileSize(t.ram_files[i])) + "\nram" + n +
            ".checksum=" + Hex(t.ram_checksums[i]) + "\n";
  }
  return WriteFileContents(t.dir / "manifest", text);
}

Status LoadGuestTemplate(const fs::path& dir, const std::string& key, int numa_nodes,
                         GuestTemplate* out) {
  *out = GuestTemplate();
  std::string text;
  if (!ReadFileContents(dir / "manifest", &text).ok()) {
    return Status::NotFound("no template at " + dir.string());
  }
  std::map<std::string, std::string> values;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return Status::NotFound("template manifest: malformed line");
    values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (values["format"] != kGuestTemplateFormat) {
    return Status::NotFound("template made by another nvlab (format " + values["format"] + ")");
  }
  if (values["key"] != key) return Status::NotFound("template manifest: another key");
  GuestTemplate t;
  t.dir = dir;
  t.key = key;
  t.state = dir / "state";
  t.console_log = dir / "console.log";
  // Check one file's recorded size and parse its checksum.
  auto check = [&](const std::string& name, const fs::path& path, uint64_t* checksum) -> Status {
    uint64_t size = 0;
    if (!ParseSize(values[name + ".size"], &size) ||
        !ParseHex(values[name + ".checksum"], checksum)) {
      return Status::NotFound("template manifest: no valid size and checksum for " + name);
    }
    const uint64_t actual = FileSize(path);
    if (actual != size) {
      return Status::NotFound(
          "template file " + path.string() + " has " +
          (actual == UINT64_MAX ? std::string("vanished")
                                : std::to_string(actual) + " bytes, not " + std::to_string(size)));
    }
    return Status::Ok();
  };
  NVLAB_RETURN_IF_ERROR(check("state", t.state, &t.state_checksum));
  for (int n = 0; n < numa_nodes; ++n) {
    const std::string name = "ram" + std::to_string(n);
    uint64_t checksum = 0;
    NVLAB_RETURN_IF_ERROR(check(name, dir / name, &checksum));
    t.ram_files.push_back(dir / name);
    t.ram_checksums.push_back(checksum);
  }
  if (values.count("ram" + std::to_string(numa_nodes) + ".size") != 0) {
    return Status::NotFound("template manifest: more RAM files than the machine's NUMA nodes");
  }
  uint64_t state_checksum = 0;
  NVLAB_RETURN_IF_ERROR(MemoryImageChecksum(t.state, &state_checksum));
  if (state_checksum != t.state_checksum) {
    return Status::NotFound("template file " + t.state.string() + " does not match its checksum");
  }
  *out = std::move(t);
  return Status::Ok();
}

}  // namespace nvlab
