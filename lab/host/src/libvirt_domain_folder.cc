// libvirt_domain_folder.cc -- DefaultLibvirtDomainDir, FindQemuUser, CheckUserCanOpen,
// PrepareLibvirtDomainFolder.

#include "nvlab/libvirt_domain_folder.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>

#include "nvlab/guest_image.h"
#include "nvlab/nvdimm_file.h"

namespace nvlab {
namespace fs = std::filesystem;
namespace {

// Debian's account for QEMU under qemu:///system (libvirt-daemon-system).
constexpr char kSystemQemuUser[] = "libvirt-qemu";
constexpr char kInstallAdvice[] =
    "install nvlab under a prefix it can read, e.g. `cmake --install build/release --prefix "
    "/usr/local`";

// ModeText is the permission bits as ls -l's numeric form: "0750".
std::string ModeText(mode_t mode) {
  std::string text = "0000";
  for (int i = 3; i >= 0; --i, mode >>= 3)
    text[static_cast<size_t>(i)] = static_cast<char>('0' + (mode & 07));
  return text;
}

std::string OwnerName(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::array<char, 4096> buf{};
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return pw.pw_name;
  }
  return "uid " + std::to_string(uid);
}

// Allows says whether `user` gets all of `bits` (r=4, w=2, x=1) on a file with `st`: the owner's
// bits if it owns it, else the group's if it is in the group, else the others'.
bool Allows(const QemuUser& user, const struct stat& st, unsigned bits) {
  unsigned granted = st.st_mode & 07;
  if (st.st_uid == user.uid) {
    granted = (st.st_mode >> 6) & 07;
  } else if (std::find(user.groups.begin(), user.groups.end(), st.st_gid) != user.groups.end()) {
    granted = (st.st_mode >> 3) & 07;
  }
  return (granted & bits) == bits;
}

Status UserCannot(const QemuUser& user, const std::string& what, const fs::path& path,
                  const struct stat& st) {
  return Status::FailedPrecondition(user.name + " cannot " + what + " " + path.string() +
                                    " (owner " + OwnerName(st.st_uid) + ", mode " +
                                    ModeText(st.st_mode) + ")");
}

// CheckPath checks one spelling of the path: each folder on the way searchable, then the file.
Status CheckPath(const QemuUser& user, const fs::path& path, UserAccess access) {
  fs::path prefix = path.root_path();
  std::vector<fs::path> steps = {prefix};
  for (const fs::path& part : path.relative_path()) {
    prefix /= part;
    steps.push_back(prefix);
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    struct stat st {};
    if (stat(steps[i].c_str(), &st) != 0) {
      return errno == ENOENT ? Status::NotFound(steps[i].string() + " does not exist")
                             : Status::IoErrorFromErrno(steps[i].string(), errno);
    }
    if (i + 1 < steps.size()) {
      if (!Allows(user, st, 1)) return UserCannot(user, "search the folder", steps[i], st);
      continue;
    }
    switch (access) {
      case UserAccess::kRead:
        if (!Allows(user, st, 4)) return UserCannot(user, "read", steps[i], st);
        break;
      case UserAccess::kExecute:
        if (!Allows(user, st, 1)) return UserCannot(user, "execute", steps[i], st);
        break;
      case UserAccess::kWrite:
        if (!Allows(user, st, S_ISDIR(st.st_mode) ? 3 : 2)) {
          return UserCannot(user, "write in", steps[i], st);
        }
        break;
    }
  }
  return Status::Ok();
}

// MakeFolders makes `dir` and any missing parent, each 0755 whatever the umask: QEMU's user
// must pass through them.
Status MakeFolders(const fs::path& dir, std::ostream* log) {
  fs::path prefix = dir.root_path();
  for (const fs::path& part : dir.relative_path()) {
    prefix /= part;
    if (mkdir(prefix.c_str(), 0755) == 0) {
      if (chmod(prefix.c_str(), 0755) != 0) return Status::IoErrorFromErrno(prefix.string(), errno);
      if (log != nullptr) *log << "nvlab: made " << prefix.string() << "\n";
    } else if (errno != EEXIST) {
      return Status::IoErrorFromErrno("cannot make the folder " + prefix.string(), errno);
    }
  }
  if (!fs::is_directory(dir)) return Status::InvalidArgument(dir.string() + " is not a folder");
  return Status::Ok();
}

// SameContent says whether two files hold the same bytes (false when either is unreadable).
bool SameContent(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  const auto size_a = fs::file_size(a, ec);
  if (ec) return false;
  const auto size_b = fs::file_size(b, ec);
  if (ec || size_a != size_b) return false;
  std::FILE* fa = std::fopen(a.c_str(), "rbe");
  std::FILE* fb = std::fopen(b.c_str(), "rbe");
  bool same = fa != nullptr && fb != nullptr;
  std::vector<char> buf_a(1 << 20), buf_b(1 << 20);
  while (same) {
    const size_t na = std::fread(buf_a.data(), 1, buf_a.size(), fa);
    const size_t nb = std::fread(buf_b.data(), 1, buf_b.size(), fb);
    same =
        na == nb && std::equal(buf_a.begin(), buf_a.begin() + static_cast<long>(na), buf_b.begin());
    if (na == 0) break;
  }
  // Read-only streams: a failing close loses nothing.
  if (fa != nullptr) (void)std::fclose(fa);
  if (fb != nullptr) (void)std::fclose(fb);
  return same;
}

// RefreshCopy makes `to` a 0644 copy of `from` unless it already holds the same bytes. The copy
// is written beside it and renamed over it, so a domain starting meanwhile never reads half a
// kernel.
Status RefreshCopy(const fs::path& from, const fs::path& to, std::ostream* log) {
  if (SameContent(from, to)) return Status::Ok();
  const fs::path temp =
      to.parent_path() / ("." + to.filename().string() + ".tmp-" + std::to_string(getpid()));
  const int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::IoErrorFromErrno("cannot read " + from.string(), errno);
  const int out = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    const int err = errno;
    close(in);
    return Status::IoErrorFromErrno("cannot write " + temp.string(), err);
  }
  int err = fchmod(out, 0644) == 0 ? 0 : errno;
  std::vector<char> buf(1 << 20);
  while (err == 0) {
    const ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    for (ssize_t done = 0; done < n && err == 0;) {
      const ssize_t w = write(out, buf.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno != EINTR) err = errno;
      if (w > 0) done += w;
    }
  }
  if (err == 0 && fsync(out) != 0) err = errno;
  close(in);
  if (close(out) != 0 && err == 0) err = errno;
  if (err == 0 && rename(temp.c_str(), to.c_str()) != 0) err = errno;
  if (err != 0) {
    unlink(temp.c_str());
    return Status::IoErrorFromErrno("cannot copy " + from.string() + " to " + to.string(), err);
  }
  if (log != nullptr) *log << "nvlab: copied " << from.string() << " to " << to.string() << "\n";
  return Status::Ok();
}

// MakeRunDir makes run/ a folder (not a link) owned by QEMU's user, mode 0750: QEMU makes its
// sockets and the plugin its report there.
Status MakeRunDir(const fs::path& run, const QemuUser& user) {
  if (mkdir(run.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::IoErrorFromErrno("cannot make the folder " + run.string(), errno);
  }
  struct stat st {};
  if (lstat(run.c_str(), &st) != 0) return Status::IoErrorFromErrno(run.string(), errno);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(run.string() + " is not a folder");
  if (st.st_uid != user.uid || st.st_gid != user.gid) {
    if (geteuid() != 0 && st.st_uid != user.uid) {
      return Status::FailedPrecondition(run.string() + " belongs to " + OwnerName(st.st_uid) +
                                        ", not to " + user.name + " who runs QEMU");
    }
    if (chown(run.c_str(), user.uid, user.gid) != 0 && geteuid() == 0) {
      return Status::IoErrorFromErrno("cannot give " + run.string() + " to " + user.name, errno);
    }
  }
  if (chmod(run.c_str(), 0750) != 0) return Status::IoErrorFromErrno(run.string(), errno);
  return Status::Ok();
}

}  // namespace

fs::path DefaultLibvirtDomainDir(std::string_view domain_name) {
  const fs::path base = geteuid() == 0 ? fs::path("/var/lib/nvlab") : DefaultNvlabHome();
  return base / "domains" / std::string(domain_name);
}

Status FindQemuUser(QemuUser* out) {
  *out = QemuUser();
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::array<char, 4096> buf{};
  if (geteuid() == 0) {
    const int err = getpwnam_r(kSystemQemuUser, &pw, buf.data(), buf.size(), &found);
    if (err != 0) return Status::IoErrorFromErrno("cannot look up the user libvirt-qemu", err);
  }
  if (found == nullptr) {
    const int err = getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found);
    if (err != 0 || found == nullptr) {
      // An account without a passwd entry (a container's arbitrary uid) is still itself.
      out->name = "uid " + std::to_string(geteuid());
      out->uid = geteuid();
      out->gid = getegid();
      out->groups = {getegid()};
      return Status::Ok();
    }
  }
  out->name = pw.pw_name;
  out->uid = pw.pw_uid;
  out->gid = pw.pw_gid;
  int count = 32;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  while (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<size_t>(count));
  }
  groups.resize(static_cast<size_t>(count));
  out->groups = groups;
  return Status::Ok();
}

Status CheckUserCanOpen(const QemuUser& user, const fs::path& path, UserAccess access) {
  if (user.uid == 0) return Status::Ok();
  const fs::path absolute = fs::absolute(path).lexically_normal();
  NVLAB_RETURN_IF_ERROR(CheckPath(user, absolute, access));
  // A symbolic link on the way leads through other folders: those must be passable too.
  std::error_code ec;
  const fs::path real = fs::canonical(absolute, ec);
  if (ec) return Status::IoError("cannot resolve " + absolute.string() + ": " + ec.message());
  return real == absolute ? Status::Ok() : CheckPath(user, real, access);
}

Status PrepareLibvirtDomainFolder(const Machine& machine, const LibvirtDomainFolderRequest& request,
                                  const QemuUser& user, std::vector<fs::path>* nvdimm_files) {
  nvdimm_files->clear();
  const LibvirtDomainFolder& folder = request.folder;
  if (!folder.dir.is_absolute()) {
    return Status::InvalidArgument("the domain folder must be an absolute path: " +
                                   folder.dir.string());
  }
  if (request.nvdimm_images.size() > machine.nvdimms.size()) {
    return Status::InvalidArgument(
        "--nvdimm-image given " + std::to_string(request.nvdimm_images.size()) +
        " times for a machine with " + std::to_string(machine.nvdimms.size()) + " NVDIMMs");
  }
  // nvlab's own files first, before anything is made.
  Status s = CheckUserCanOpen(user, request.emulator, UserAccess::kExecute);
  if (s.code() == Status::Code::kNotFound) {
    return Status::NotFound("the emulator wrapper nvlab-qemu is missing: " + s.message() +
                            " (it is built and installed with nvlab)");
  }
  if (!s.ok()) {
    return Status::FailedPrecondition("QEMU's emulator " + request.emulator.string() +
                                      " is out of reach: " + s.message() + "; " + kInstallAdvice);
  }
  if (!request.plugin.empty()) {
    s = CheckUserCanOpen(user, request.plugin, UserAccess::kRead);
    if (s.code() == Status::Code::kNotFound) {
      return Status::NotFound("the persistence model plugin is missing: " + s.message() +
                              " (use --model off to render without)");
    }
    if (!s.ok()) {
      return Status::FailedPrecondition("the persistence model " + request.plugin.string() +
                                        " is out of reach: " + s.message() + "; " + kInstallAdvice);
    }
  }

  NVLAB_RETURN_IF_ERROR(MakeFolders(folder.dir, request.log));
  const std::string folder_advice =
      "; choose a --domain-dir " + user.name + " can reach (the default is under /var/lib/nvlab)";
  s = CheckUserCanOpen(user, folder.dir, UserAccess::kExecute);
  if (!s.ok()) {
    return Status::FailedPrecondition("the domain folder is out of reach: " + s.message() +
                                      folder_advice);
  }
  NVLAB_RETURN_IF_ERROR(RefreshCopy(request.kernel, folder.kernel(), request.log));
  NVLAB_RETURN_IF_ERROR(RefreshCopy(request.initrd, folder.initrd(), request.log));
  for (size_t i = 0; i < machine.nvdimms.size(); ++i) {
    const bool given = i < request.nvdimm_images.size() && !request.nvdimm_images[i].empty();
    const fs::path file =
        given ? fs::absolute(request.nvdimm_images[i]).lexically_normal() : folder.nvdimm_file(i);
    if (given) {
      // Checked before the file is made: nvlab makes nothing QEMU could not open.
      s = CheckUserCanOpen(user, file.parent_path(), UserAccess::kExecute);
      if (!s.ok() && s.code() != Status::Code::kNotFound) {
        return Status::FailedPrecondition("NVDIMM file " + file.string() +
                                          " is out of reach: " + s.message() + "; put it where " +
                                          user.name + " can reach it");
      }
    }
    bool created = false;
    NVLAB_RETURN_IF_ERROR(PrepareNvdimmFile(file, machine.nvdimms[i].size, &created));
    if (request.log != nullptr) {
      *request.log << "nvlab: NVDIMM " << i << ": " << file.string()
                   << (created ? " (new, zeroed)" : " (existing content)") << "\n";
    }
    nvdimm_files->push_back(file);
  }
  NVLAB_RETURN_IF_ERROR(MakeRunDir(folder.run_dir(), user));

  // libvirt hands the image files it knows of (kernel, initrd, NVDIMMs) to QEMU's user when the
  // domain starts, but not the folders on their way.
  for (const fs::path& file : {folder.kernel(), folder.initrd()}) {
    s = CheckUserCanOpen(user, file, UserAccess::kRead);
    if (!s.ok()) {
      return Status::FailedPrecondition("the domain's " + file.filename().string() +
                                        " is out of reach: " + s.message() + folder_advice);
    }
  }
  for (const fs::path& file : *nvdimm_files) {
    s = CheckUserCanOpen(user, file, UserAccess::kRead);
    if (!s.ok()) {
      return Status::FailedPrecondition("NVDIMM file " + file.string() +
                                        " is out of reach: " + s.message() + "; put it where " +
                                        user.name + " can reach it");
    }
  }
  s = CheckUserCanOpen(user, folder.run_dir(), UserAccess::kWrite);
  if (!s.ok()) {
    return Status::FailedPrecondition("the domain's run folder is out of reach: " + s.message() +
                                      folder_advice);
  }
  return Status::Ok();
}

}  // namespace nvlab
