// libvirt_daemons.h -- a running libvirt for tests that drive real domains (qemu:///system).
//
// These hosts have no systemd to start libvirt's daemons on demand, so tests start them
// themselves (docs/design/platform.md, "libvirt 11.3 without systemd"):
//
//   Start   As root only (qemu:///system). Under an exclusive flock on kLockPath (held only
//           while starting or stopping): when libvirtd runs (/run/libvirtd.pid names a live
//           libvirtd) and answers (virConnectOpen + virConnectGetLibVersion), it is used as it
//           is, whoever started it. Otherwise Start runs `virtlogd --daemon` (unless one runs)
//           and then `libvirtd --daemon`, with the daemons' own default pid files (so
//           libvirtd's single-instance check still holds), records their PIDs in kStartedPath,
//           and polls until libvirtd answers (deadline 60 s; the first connection can take
//           seconds while libvirt probes QEMU). Either way this user then holds kUsersLockPath
//           shared until Stop.
//   Stop    Under kLockPath, tries to turn its shared lock on kUsersLockPath exclusive without
//           waiting. If that fails, another LibvirtDaemons (another test process) still uses
//           libvirt: nothing is stopped, and that user stops the daemons when it is the last.
//           Otherwise the daemons listed in kStartedPath -- started by a LibvirtDaemons, never
//           ones that ran before -- get SIGTERM, libvirtd first, then SIGKILL if still there
//           after 30 s, and the record is removed. So the last user stops what tests started,
//           also after the test process that started them has crashed; a libvirt that ran
//           before any test is never stopped.
//
// Tests that use it run one test process per binary (a GoogleTest global Environment,
// libvirt_test_environment.h) with the CTest label "libvirt" and RESOURCE_LOCK "libvirtd", so
// that CTest never runs two of them at once; the lock makes concurrent use from elsewhere (a
// second build tree's tests) safe as well.
//
// Thread-safety: one LibvirtDaemons per process, used from one thread.

#ifndef NVLAB_TESTS_SUPPORT_LIBVIRT_DAEMONS_H_
#define NVLAB_TESTS_SUPPORT_LIBVIRT_DAEMONS_H_

#include "nvlab/status.h"

namespace nvlab::testing {

class LibvirtDaemons {
 public:
  static constexpr const char* kUri = "qemu:///system";
  static constexpr const char* kLockPath = "/run/lock/nvlab-libvirt-daemons.lock";
  static constexpr const char* kUsersLockPath = "/run/lock/nvlab-libvirt-daemons.users.lock";
  static constexpr const char* kStartedPath = "/run/nvlab-libvirt-daemons.started";

  // Start makes libvirt answer at uri() and *out the handle that keeps it in use.
  // NotSupported when not root or when libvirtd or virtlogd is not installed (the caller skips);
  // Timeout when libvirtd does not answer within 60 s; IoError when a daemon fails to start
  // (the message has its stderr).
  static Status Start(LibvirtDaemons* out);

  LibvirtDaemons() = default;
  LibvirtDaemons(const LibvirtDaemons&) = delete;
  LibvirtDaemons& operator=(const LibvirtDaemons&) = delete;
  ~LibvirtDaemons() { Stop(); }

  // Stop ends this process's use (see the header comment); a no-op when not started.
  void Stop();

  const char* uri() const { return kUri; }
  // started_daemons: Start found libvirt down and started it.
  bool started_daemons() const { return started_daemons_; }

 private:
  int lock_fd_ = -1;
  bool started_daemons_ = false;
};

}  // namespace nvlab::testing

#endif  // NVLAB_TESTS_SUPPORT_LIBVIRT_DAEMONS_H_
