// loopback_ssh_hosts.h -- several "hosts" on this machine for multi-host tests: one sshd per
// loopback address (127.0.0.2, 127.0.0.3, ...), each with its own host key, all accepting one
// generated client key for root. Ansible reaches them as separate hosts over real SSH.
//
// Life cycle: Start -> (Kill one to make it unreachable) -> Stop (or destruction). Every sshd
// is a child of the test, started and ended by PID; nothing else is touched.

#ifndef NVLAB_TESTS_SUPPORT_LOOPBACK_SSH_HOSTS_H_
#define NVLAB_TESTS_SUPPORT_LOOPBACK_SSH_HOSTS_H_

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "nvlab/status.h"
#include "nvlab/subprocess.h"

namespace nvlab::testing {

struct LoopbackSshHost {
  std::string address;  // 127.0.0.N
  int port = 0;         // a free port found at start
  std::unique_ptr<Subprocess> sshd;
};

class LoopbackSshHosts {
 public:
  LoopbackSshHosts() = default;
  ~LoopbackSshHosts() { Stop(); }
  LoopbackSshHosts(const LoopbackSshHosts&) = delete;
  LoopbackSshHosts& operator=(const LoopbackSshHosts&) = delete;

  // Start makes keys and configurations under dir and starts `count` sshd instances on
  // 127.0.0.2 upwards, returning once each one accepts connections.
  Status Start(const std::filesystem::path& dir, int count);
  // Kill makes host i unreachable at once, as a host that lost power: its sshd and every
  // process that descends from it (the sessions and the commands they run) get SIGKILL.
  void Kill(size_t i);
  void Stop();

  const std::vector<LoopbackSshHost>& hosts() const { return hosts_; }
  // client_key is the private key that logs in as root on every host.
  const std::filesystem::path& client_key() const { return client_key_; }

 private:
  std::vector<LoopbackSshHost> hosts_;
  std::filesystem::path client_key_;
};

}  // namespace nvlab::testing

#endif  // NVLAB_TESTS_SUPPORT_LOOPBACK_SSH_HOSTS_H_
