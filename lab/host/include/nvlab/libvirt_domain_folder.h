// File: nvlab/libvirt_domain_folder.h
//
// A libvirt domain's folder D: every file of the domain that nvlab provides, in one place that
// the user QEMU runs as can reach (docs/design/libvirt.md). Its layout:
//
//   D/vmlinux, D/initrd   copies (0644) of the guest image's kernel and initrd, refreshed when
//                         they differ (the image cache may sit under a 0700 home such as /root)
//   D/nvdimm<i>.img       NVDIMM i, when the caller names no file for it: created zeroed when
//                         missing, reused when present, never deleted (nvlab/nvdimm_file.h)
//   D/run/                the domain's run-time files, owned by QEMU's user, mode 0750:
//                         agent.sock, model.sock, cut-report.json, console.log
//
// The libvirt domain XML (nvlab/libvirt_domain_xml.h) names these paths; PrepareLibvirtDomainFolder
// makes them exist and checks that QEMU's user can open every file the domain makes it open.
//
// Thread-safety: plain values; PrepareLibvirtDomainFolder works on the file system and must not
// run twice at once for one folder.

#ifndef NVLAB_LIBVIRT_DOMAIN_FOLDER_H_
#define NVLAB_LIBVIRT_DOMAIN_FOLDER_H_

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/machine.h"
#include "nvlab/status.h"

namespace nvlab {

// LibvirtDomainFolder names the files of the domain folder `dir` (an absolute path).
struct LibvirtDomainFolder {
  std::filesystem::path dir;

  std::filesystem::path kernel() const { return dir / "vmlinux"; }
  std::filesystem::path initrd() const { return dir / "initrd"; }
  std::filesystem::path nvdimm_file(size_t i) const {
    return dir / ("nvdimm" + std::to_string(i) + ".img");
  }
  std::filesystem::path run_dir() const { return dir / "run"; }
  std::filesystem::path agent_socket() const { return run_dir() / "agent.sock"; }
  std::filesystem::path model_socket() const { return run_dir() / "model.sock"; }
  std::filesystem::path cut_report() const { return run_dir() / "cut-report.json"; }
  std::filesystem::path console_log() const { return run_dir() / "console.log"; }
};

// DefaultLibvirtDomainDir is D when the caller names none: /var/lib/nvlab/domains/NAME for root
// (qemu:///system), else NVLAB_HOME/domains/NAME (qemu:///session).
std::filesystem::path DefaultLibvirtDomainDir(std::string_view domain_name);

// QemuUser is the account QEMU runs as under libvirt: its ids and every group it is in.
struct QemuUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // the primary group and the supplementary ones
};

// FindQemuUser: as root, libvirt-qemu (Debian's qemu:///system user) when that account exists;
// otherwise the caller, as under qemu:///session.
Status FindQemuUser(QemuUser* out);

// UserAccess is what CheckUserCanOpen asks of a file.
enum class UserAccess { kRead, kExecute, kWrite };

// CheckUserCanOpen checks with the file modes (owner, group, other; not ACLs) that `user` can
// search every folder from / down to `path`, and read, execute or write `path` itself. OK for
// root. FailedPrecondition names the first folder or the file it cannot pass, with its owner and
// mode. NotFound when something on the way is missing.
Status CheckUserCanOpen(const QemuUser& user, const std::filesystem::path& path, UserAccess access);

// LibvirtDomainFolderRequest is what a domain folder is prepared from.
struct LibvirtDomainFolderRequest {
  LibvirtDomainFolder folder;
  // The guest image's kernel and initrd (GuestImage::kernel, ::initrd), copied into the folder.
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  // nvdimm_images[i], when present and non-empty, is the caller's file for NVDIMM i (relative
  // paths are made absolute); else the folder's nvdimm<i>.img.
  std::vector<std::filesystem::path> nvdimm_images;
  // The files of nvlab QEMU runs from its install prefix: the emulator wrapper, and the plugin
  // (empty with the persistence model off).
  std::filesystem::path emulator;
  std::filesystem::path plugin;
  std::ostream* log = nullptr;  // -v: one line per thing done
};

// PrepareLibvirtDomainFolder makes the folder ready for `machine` and QEMU's `user`: it first
// checks that the user can run the emulator and read the plugin (nothing is made when not: the
// message says to install nvlab under a prefix the user can read), then makes the folder (0755),
// refreshes the kernel and initrd copies (written to a temporary file and renamed), makes missing
// NVDIMM files, makes run/ (owned by the user, 0750), and checks that the user reaches every
// file QEMU will open. *nvdimm_files receives the NVDIMM files, one per Machine::nvdimms.
Status PrepareLibvirtDomainFolder(const Machine& machine, const LibvirtDomainFolderRequest& request,
                                  const QemuUser& user,
                                  std::vector<std::filesystem::path>* nvdimm_files);

}  // namespace nvlab

#endif  // NVLAB_LIBVIRT_DOMAIN_FOLDER_H_
