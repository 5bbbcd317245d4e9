// run_folder.cc -- run folders: made with their owner recorded, swept once their owner is gone.

#include "nvlab/run_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "nvlab/file_contents.h"

namespace nvlab {
namespace fs = std::filesystem;

namespace {

constexpr char kOwnerFile[] = "owner";
constexpr char kKeptFile[] = "kept";
// The owner file is a few dozen bytes; anything larger is not one.
constexpr size_t kMaxOwnerFileBytes = 256;

bool ParseUnsigned(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 10);
  return ec == std::errc() && end == text.data() + text.size();
}

// ReadOwner parses a run folder's owner file; false when it is missing or not one.
bool ReadOwner(const fs::path& folder, pid_t* pid, uint64_t* start_time) {
  std::error_code ec;
  if (fs::file_size(folder / kOwnerFile, ec) > kMaxOwnerFileBytes || ec) return false;
  std::string text;
  if (!ReadFileContents(folder / kOwnerFile, &text).ok()) return false;
  std::map<std::string, std::string> values;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return false;
    values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  uint64_t p = 0;
  if (!ParseUnsigned(values["pid"], &p) || p == 0 || p > 0x7fffffff) return false;
  if (!ParseUnsigned(values["start"], start_time)) return false;
  *pid = static_cast<pid_t>(p);
  return true;
}

// OwnerIsGone: no process with that PID, or one that started at another time.
bool OwnerIsGone(pid_t pid, uint64_t start_time) {
  uint64_t now = 0;
  const Status s = ProcessStartTime(pid, &now);
  if (s.code() == Status::Code::kNotFound) return true;
  return s.ok() && now != start_time;  // unreadable: assume it lives
}

}  // namespace

fs::path RunFolderRoot() {
  if (const char* tmp = std::getenv("TMPDIR");
      tmp != nullptr && *tmp != '\0' && std::strlen(tmp) < 60) {
    return tmp;
  }
  return "/tmp";
}

Status ProcessStartTime(pid_t pid, uint64_t* start_time) {
  std::string stat;
  const fs::path path = fs::path("/proc") / std::to_string(pid) / "stat";
  const Status read = ReadFileContents(path, &stat);
  if (read.code() == Status::Code::kNotFound) {
    return Status::NotFound("no process " + std::to_string(pid));
  }
  NVLAB_RETURN_IF_ERROR(read);
  // Field 2, the command name, is in parentheses and may hold spaces and ')': fields 3 on
  // follow the last ')'.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return Status::ProtocolError(path.string() + ": no ')'");
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  for (int n = 3; n <= 22; ++n) {
    if (!(fields >> field)) return Status::ProtocolError(path.string() + ": too few fields");
  }
  if (!ParseUnsigned(field, start_time)) {
    return Status::ProtocolError(path.string() + ": field 22 is not a number");
  }
  return Status::Ok();
}

std::string OwnerFileText(pid_t pid, uint64_t start_time) {
  return "pid=" + std::to_string(pid) + "\nstart=" + std::to_string(start_time) + "\n";
}

bool IsRunFolderName(const std::string& name) {
  constexpr std::string_view kPrefix = "nvlab-";
  if (name.size() != kPrefix.size() + 6 || name.compare(0, kPrefix.size(), kPrefix) != 0) {
    return false;
  }
  for (size_t i = kPrefix.size(); i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

void SweepStaleRunFolders(const fs::path& root, std::ostream* log) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
    if (!IsRunFolderName(entry.path().filename().string())) continue;
    struct stat st {};
    // lstat: a symlink named like a run folder is not one.
    if (lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
      continue;
    }
    std::error_code kept;
    if (fs::exists(entry.path() / kKeptFile, kept) || kept) continue;  // the user's now
    pid_t pid = 0;
    uint64_t start_time = 0;
    if (!ReadOwner(entry.path(), &pid, &start_time) || !OwnerIsGone(pid, start_time)) continue;
    std::error_code removed;
    fs::remove_all(entry.path(), removed);
    if (!removed && log != nullptr) {
      *log << "nvlab: removed the run folder " << entry.path().string() << " of nvlab process "
           << pid << ", which is gone\n"
           << std::flush;
    }
  }
}

Status MarkRunFolderKept(const fs::path& folder) {
  return WriteFileAtomically(folder / kKeptFile,
                             "kept by nvlab --keep: no nvlab removes this folder; delete it when "
                             "done\n");
}

Status MakeRunFolder(fs::path* out, std::ostream* log) {
  const fs::path root = RunFolderRoot();
  SweepStaleRunFolders(root, log);
  uint64_t start_time = 0;
  NVLAB_RETURN_IF_ERROR(ProcessStartTime(getpid(), &start_time));
  std::string templ = (root / "nvlab-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) {
    return Status::IoErrorFromErrno("cannot create a run folder in " + root.string(), errno);
  }
  const Status owned =
      WriteFileAtomically(fs::path(templ) / kOwnerFile, OwnerFileText(getpid(), start_time));
  if (!owned.ok()) {
    std::error_code ec;
    fs::remove_all(templ, ec);
    return owned.WithContext("writing the run folder's owner");
  }
  *out = templ;
  return Status::Ok();
}

}  // namespace nvlab
