// guest_ram_folder.cc -- GuestRamFolder, ReserveMemoryImage, SweepStaleGuestRamFolders.

#include "nvlab/guest_ram_folder.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <numeric>
#include <utility>

#include "nvlab/machine.h"

namespace nvlab {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMinimumMargin = uint64_t{64} << 20;
constexpr char kOwnerFile[] = "owner.pid";

fs::path UserFolder(const fs::path& base) {
  return base / ("nvlab-" + std::to_string(getuid()));
}

// OwnUserFolder creates <base>/nvlab-<uid> (0700) when missing and checks that it is ours: a
// real folder owned by this user that nobody else can write (base is world-writable /dev/shm).
Status OwnUserFolder(const fs::path& base, fs::path* out) {
  const fs::path folder = UserFolder(base);
  if (mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoErrorFromErrno("cannot create " + folder.string(), errno);
  }
  struct stat st {};
  if (lstat(folder.c_str(), &st) != 0) return Status::IoErrorFromErrno(folder.string(), errno);
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022) != 0) {
    return Status::FailedPrecondition(folder.string() +
                                      " is not a folder of this user's closed to others");
  }
  *out = folder;
  return Status::Ok();
}

// Alive says whether the PID in an owner file names a running process (EPERM: another user's,
// still running).
bool OwnerAlive(const fs::path& owner_file) {
  std::ifstream in(owner_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

fs::path DefaultGuestRamBase() {
  if (const char* dir = std::getenv("NVLAB_RAM_DIR"); dir != nullptr) return fs::path(dir);
  return "/dev/shm";
}

namespace {

// Allocate reserves all of an open file's `size` bytes; returns 0 or the errno.
int Allocate(int fd, uint64_t size) {
  int err = posix_fallocate(fd, 0, static_cast<off_t>(size));
  // posix_fallocate returns the error; glibc emulates it where the file system lacks it.
  if (err == EOPNOTSUPP || err == EINVAL) err = ftruncate(fd, static_cast<off_t>(size)) ? errno : 0;
  return err;
}

Status ReserveFailure(const fs::path& path, uint64_t size, int err) {
  return Status::IoErrorFromErrno(
      "cannot reserve " + FormatSize(size) + " for guest RAM file " + path.string(), err);
}

// CreateSized makes `path` (0600, replacing a file there) `size` zero bytes, none allocated.
Status CreateSized(const fs::path& path, uint64_t size) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::IoErrorFromErrno("cannot create guest RAM file " + path.string(), errno);
  const int err = ftruncate(fd, static_cast<off_t>(size)) != 0 ? errno : 0;
  close(fd);
  if (err != 0) {
    unlink(path.c_str());
    return ReserveFailure(path, size, err);
  }
  return Status::Ok();
}

// ReserveExisting reserves a file CreateSized made. The file stays on failure: QEMU may have it
// mapped already, and the folder goes with the guest.
Status ReserveExisting(const fs::path& path, uint64_t size) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::IoErrorFromErrno("cannot open guest RAM file " + path.string(), errno);
  const int err = Allocate(fd, size);
  close(fd);
  return err != 0 ? ReserveFailure(path, size, err) : Status::Ok();
}

}  // namespace

Status ReserveMemoryImage(const fs::path& path, uint64_t size) {
  NVLAB_RETURN_IF_ERROR(CreateSized(path, size));
  Status reserved = ReserveExisting(path, size);
  if (!reserved.ok()) unlink(path.c_str());
  return reserved;
}

int SweepStaleGuestRamFolders(const fs::path& base) {
  const fs::path folder = UserFolder(base);
  int removed = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code entry_ec;
    if (it->path().filename().string().rfind("ram-", 0) != 0) continue;
    if (!it->is_directory(entry_ec) || it->is_symlink(entry_ec)) continue;
    const fs::path owner = it->path() / kOwnerFile;
    if (fs::exists(owner, entry_ec)) {
      if (OwnerAlive(owner)) continue;
    } else {
      // No owner file yet: a folder being made right now, unless it is old.
      const auto age = fs::file_time_type::clock::now() - fs::last_write_time(it->path(), entry_ec);
      if (entry_ec || age < std::chrono::minutes(1)) continue;
    }
    if (fs::remove_all(it->path(), entry_ec) > 0 && !entry_ec) ++removed;
  }
  return removed;
}

GuestRamFolder::~GuestRamFolder() {
  Remove();
}

GuestRamFolder::GuestRamFolder(GuestRamFolder&& other) noexcept
    : owned_(std::exchange(other.owned_, {})),
      files_(std::move(other.files_)),
      description_(std::move(other.description_)),
      reservation_(std::move(other.reservation_)) {}

GuestRamFolder& GuestRamFolder::operator=(GuestRamFolder&& other) noexcept {
  if (this != &other) {
    Remove();
    owned_ = std::exchange(other.owned_, {});
    files_ = std::move(other.files_);
    description_ = std::move(other.description_);
    reservation_ = std::move(other.reservation_);
  }
  return *this;
}

Status GuestRamFolder::AwaitReservation() {
  if (!reservation_.valid()) return Status::Ok();
  return reservation_.get();
}

void GuestRamFolder::Remove() {
  // The reservation's thread finishes before its files go.
  if (reservation_.valid()) reservation_.wait();
  reservation_ = {};
  if (owned_.empty()) return;
  std::error_code ec;
  fs::remove_all(owned_, ec);
  owned_.clear();
}

namespace {

uint64_t Room(const std::vector<uint64_t>& sizes) {
  const uint64_t total = std::accumulate(sizes.begin(), sizes.end(), uint64_t{0});
  return total + std::max(kMinimumMargin, total / 4);
}

// FreeBytes is what statvfs says an unprivileged writer may still use under `dir` (0 on error).
uint64_t FreeBytes(const fs::path& dir) {
  struct statvfs vfs {};
  if (statvfs(dir.c_str(), &vfs) != 0) return 0;
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

}  // namespace

std::vector<fs::path> GuestRamFolder::Planned(const fs::path& base, const fs::path& run_dir,
                                              const std::vector<uint64_t>& sizes) {
  const fs::path folder =
      !base.empty() && FreeBytes(base) >= Room(sizes) ? UserFolder(base) / "ram-XXXXXX" : run_dir;
  std::vector<fs::path> files;
  for (size_t n = 0; n < sizes.size(); ++n) files.push_back(folder / ("ram" + std::to_string(n)));
  return files;
}

Status GuestRamFolder::Place(const fs::path& base, const fs::path& run_dir,
                             const std::vector<uint64_t>& sizes, GuestRamFolder* out,
                             Reservation reservation) {
  GuestRamFolder placed;
  const uint64_t room = Room(sizes);
  auto reserve_in = [&](const fs::path& folder) -> Status {
    placed.files_.clear();
    for (size_t n = 0; n < sizes.size(); ++n) {
      placed.files_.push_back(folder / ("ram" + std::to_string(n)));
      NVLAB_RETURN_IF_ERROR(ReserveMemoryImage(placed.files_.back(), sizes[n]));
    }
    return Status::Ok();
  };
  auto reserve_in_background = [&](const fs::path& folder) -> Status {
    placed.files_.clear();
    for (size_t n = 0; n < sizes.size(); ++n) {
      placed.files_.push_back(folder / ("ram" + std::to_string(n)));
      NVLAB_RETURN_IF_ERROR(CreateSized(placed.files_.back(), sizes[n]));
    }
    placed.reservation_ = std::async(std::launch::async, [files = placed.files_, sizes] {
      for (size_t n = 0; n < files.size(); ++n) {
        NVLAB_RETURN_IF_ERROR(ReserveExisting(files[n], sizes[n]));
      }
      return Status::Ok();
    });
    return Status::Ok();
  };
  std::string why_not;
  struct statvfs vfs {};
  fs::path user_folder;
  if (base.empty()) {
    why_not = "NVLAB_RAM_DIR is empty";
  } else if (statvfs(base.c_str(), &vfs) != 0) {
    why_not = base.string() + ": " + std::strerror(errno);
  } else if (FreeBytes(base) < room) {
    why_not =
        base.string() + " has " + FormatSize(FreeBytes(base)) + " free, under " + FormatSize(room);
  } else if (Status s = OwnUserFolder(base, &user_folder); !s.ok()) {
    why_not = s.message();
  } else {
    (void)SweepStaleGuestRamFolders(base);
    std::string templ = (user_folder / "ram-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) {
      why_not = "cannot create a folder in " + user_folder.string() + ": " + std::strerror(errno);
    } else {
      placed.owned_ = templ;
      std::ofstream owner(placed.owned_ / kOwnerFile);
      owner << getpid() << "\n";
      owner.close();
      Status s = !owner ? Status::IoError("cannot write owner.pid")
                 : reservation == Reservation::kInBackground ? reserve_in_background(placed.owned_)
                                                             : reserve_in(placed.owned_);
      if (s.ok()) {
        struct statfs fs_info {};
        const bool tmpfs = statfs(base.c_str(), &fs_info) == 0 && fs_info.f_type == TMPFS_MAGIC;
        placed.description_ = "guest RAM in " + placed.owned_.string() +
                              (tmpfs ? " (tmpfs)" : " (not a tmpfs: NVLAB_RAM_DIR)");
        *out = std::move(placed);
        return Status::Ok();
      }
      why_not = s.message();
      placed.Remove();
    }
  }
  NVLAB_RETURN_IF_ERROR(reserve_in(run_dir));
  placed.description_ = "guest RAM in the run folder " + run_dir.string() + " (" + why_not + ")";
  *out = std::move(placed);
  return Status::Ok();
}

}  // namespace nvlab
