// debian_packages.cc -- apt-cache queries, apt-get download into a .deb cache, dpkg-deb -x.

#include "nvlab/image/debian_packages.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "nvlab/host_command.h"
#include "nvlab/image/sha256_digest.h"

namespace nvlab::image {
namespace {

namespace fs = std::filesystem;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// EscapedVersion writes a version as apt-get download does in file names (':' as %3a).
std::string EscapedVersion(const std::string& version) {
  std::string escaped;
  for (char c : version) {
    if (c == ':') {
      escaped += "%3a";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

}  // namespace

Status AptListsFingerprint(std::string* fingerprint) {
  std::vector<std::string> entries;
  for (const char* dir : {"/var/lib/apt/lists", "/etc/apt/preferences.d"}) {
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
      std::error_code entry_error;
      if (!entry.is_regular_file(entry_error)) continue;
      // Only the indexes and preferences count: apt's lock file changes with every apt run.
      std::string name = entry.path().filename().string();
      if (name == "lock") continue;
      auto size = entry.file_size(entry_error);
      auto time = entry.last_write_time(entry_error);
      if (entry_error) continue;
      entries.push_back(entry.path().string() + " " + std::to_string(size) + " " +
                        std::to_string(time.time_since_epoch().count()));
    }
  }
  if (entries.empty()) {
    return Status::NotFound("apt has no package lists (/var/lib/apt/lists): run apt-get update");
  }
  std::sort(entries.begin(), entries.end());
  Sha256Digest digest;
  for (const std::string& entry : entries) digest.Update(entry + "\n");
  *fingerprint = digest.HexDigest().substr(0, 16);
  if (fingerprint->empty()) return Status::FailedPrecondition("libcrypto cannot compute SHA-256");
  return Status::Ok();
}

std::vector<std::string> ParseLibraryDepends(std::string_view output) {
  std::set<std::string> names;
  for (std::string_view line : Lines(output)) {
    std::string_view field = Trim(line);
    if (!field.empty() && field.front() == '|') field.remove_prefix(1);
    std::string_view value;
    if (field.substr(0, 8) == "Depends:") {
      value = Trim(field.substr(8));
    } else if (field.substr(0, 11) == "PreDepends:") {
      value = Trim(field.substr(11));
    } else {
      continue;
    }
    if (value.empty() || value.front() == '<') continue;  // a virtual package
    value = value.substr(0, value.find(':'));             // "libc6:any" -> "libc6"
    if (value.substr(0, 3) == "lib") names.emplace(value);
  }
  return {names.begin(), names.end()};
}

std::vector<DebianPackage> ParseAptShow(std::string_view output) {
  std::vector<DebianPackage> packages;
  DebianPackage current;
  auto flush = [&] {
    if (!current.name.empty() && !current.version.empty()) packages.push_back(current);
    current = DebianPackage();
  };
  for (std::string_view line : Lines(output)) {
    if (Trim(line).empty()) {
      flush();
      continue;
    }
    if (line.front() == ' ') continue;  // continuation of a multi-line field
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::string value(Trim(line.substr(colon + 1)));
    if (key == "Package") {
      if (!current.name.empty()) flush();
      current.name = value;
    } else if (key == "Version") {
      current.version = value;
    } else if (key == "SHA256") {
      current.sha256 = value;
    }
  }
  flush();
  return packages;
}

Status ResolveMetapackage(const std::string& metapackage, const std::string& prefix,
                          std::string* name) {
  std::string output;
  NVLAB_RETURN_IF_ERROR(RunHostCommand({"apt-cache", "depends", metapackage}, {}, &output));
  for (std::string_view line : Lines(output)) {
    std::string_view field = Trim(line);
    if (field.substr(0, 8) != "Depends:") continue;
    std::string_view value = Trim(field.substr(8));
    if (value.substr(0, prefix.size()) == prefix) {
      *name = std::string(value);
      return Status::Ok();
    }
  }
  return Status::NotFound("apt-cache depends " + metapackage + " names no " + prefix + "* package");
}

Status ResolvePackageSet(const std::vector<std::string>& roots,
                         std::vector<DebianPackage>* packages) {
  std::set<std::string> all(roots.begin(), roots.end());
  std::vector<std::string> wave(roots.begin(), roots.end());
  // Library dependencies in waves: one apt-cache call per level (each costs about a second).
  while (!wave.empty()) {
    std::vector<std::string> argv = {"apt-cache",     "depends",        "--no-recommends",
                                     "--no-suggests", "--no-conflicts", "--no-breaks",
                                     "--no-replaces", "--no-enhances"};
    argv.insert(argv.end(), wave.begin(), wave.end());
    std::string output;
    NVLAB_RETURN_IF_ERROR(RunHostCommand(argv, {}, &output));
    wave.clear();
    for (std::string& name : ParseLibraryDepends(output)) {
      if (all.insert(name).second) wave.push_back(name);
    }
  }
  std::vector<std::string> argv = {"apt-cache", "show", "--no-all-versions"};
  argv.insert(argv.end(), all.begin(), all.end());
  std::string output;
  NVLAB_RETURN_IF_ERROR(RunHostCommand(argv, {}, &output));
  *packages = ParseAptShow(output);
  std::sort(packages->begin(), packages->end(),
            [](const DebianPackage& a, const DebianPackage& b) { return a.name < b.name; });
  packages->erase(
      std::unique(packages->begin(), packages->end(),
                  [](const DebianPackage& a, const DebianPackage& b) { return a.name == b.name; }),
      packages->end());
  for (const std::string& name : all) {
    auto found = std::find_if(packages->begin(), packages->end(),
                              [&](const DebianPackage& p) { return p.name == name; });
    if (found == packages->end()) {
      return Status::NotFound("apt knows no package " + name + " (run apt-get update?)");
    }
    if (found->sha256.empty()) return Status::NotFound("apt gives no SHA256 for " + name);
  }
  return Status::Ok();
}

std::string DebFilePrefix(const DebianPackage& package) {
  return package.name + "_" + EscapedVersion(package.version) + "_";
}

Status FetchPackage(const DebianPackage& package, const fs::path& cache_dir,
                    const fs::path& work_dir, fs::path* deb) {
  std::string prefix = DebFilePrefix(package);
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(cache_dir, error)) {
    std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) != 0 || entry.path().extension() != ".deb") continue;
    std::string hex;
    if (Sha256OfFile(entry.path(), &hex).ok() && hex == package.sha256) {
      *deb = entry.path();
      return Status::Ok();
    }
  }
  fs::path download_dir = work_dir / ("download-" + package.name);
  fs::create_directories(download_dir, error);
  if (error) return Status::IoError("cannot create " + download_dir.string());
  HostCommandOptions options;
  options.working_dir = download_dir;
  std::string ignored;
  Status status = RunHostCommand(
      {"apt-get", "download", "-q", package.name + "=" + package.version}, options, &ignored);
  if (!status.ok()) return status.WithContext("downloading " + package.name);
  for (const fs::directory_entry& entry : fs::directory_iterator(download_dir, error)) {
    if (entry.path().extension() != ".deb") continue;
    std::string hex;
    NVLAB_RETURN_IF_ERROR(Sha256OfFile(entry.path(), &hex));
    if (hex != package.sha256) {
      return Status::FailedPrecondition("downloaded " + entry.path().filename().string() +
                                        " has SHA-256 " + hex + ", apt's index says " +
                                        package.sha256);
    }
    fs::path cached = cache_dir / entry.path().filename();
    fs::rename(entry.path(), cached, error);
    if (error)
      return Status::IoError("cannot move " + entry.path().string() + ": " + error.message());
    fs::remove_all(download_dir, error);
    *deb = cached;
    return Status::Ok();
  }
  return Status::NotFound("apt-get download " + package.name + " left no .deb file");
}

Status UnpackPackage(const fs::path& deb, const fs::path& root) {
  std::string ignored;
  return RunHostCommand({"dpkg-deb", "-x", deb.string(), root.string()}, {}, &ignored);
}

}  // namespace nvlab::image
