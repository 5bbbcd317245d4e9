// loopback_ssh_hosts.cc -- LoopbackSshHosts: sshd instances on loopback addresses.

#include "loopback_ssh_hosts.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "nvlab/deadline.h"
#include "nvlab/host_command.h"

namespace nvlab::testing {
namespace {

namespace fs = std::filesystem;

// FreePort asks the kernel for an unused TCP port on address. Another process may take it
// before sshd binds it; Start then fails with sshd's message, which is rare and visible.
Status FreePort(const std::string& address, int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoErrorFromErrno("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    close(fd);
    return Status::IoErrorFromErrno("cannot bind " + address, err);
  }
  *port = ntohs(addr.sin_port);
  close(fd);
  return Status::Ok();
}

bool Accepts(const std::string& address, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Descendants lists every process below pid (children first found, grandchildren after),
// read from /proc/*/stat's parent field.
std::vector<pid_t> Descendants(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    // pid (comm) state ppid ...: comm may hold spaces and parentheses; read after the last ')'.
    const size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(text.c_str() + close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
    children[ppid].push_back(std::stoi(name));
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    for (pid_t c : children[p]) {
      out.push_back(c);
      todo.push_back(c);
    }
  }
  return out;
}

}  // namespace

Status LoopbackSshHosts::Start(const fs::path& dir, int count) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  // sshd's privilege separation needs this folder; a service manager would make it.
  if (mkdir("/run/sshd", 0755) != 0 && errno != EEXIST) {
    return Status::IoErrorFromErrno("/run/sshd", errno);
  }
  std::string keygen_output;  // ssh-keygen -q says nothing unless it fails
  client_key_ = dir / "client_key";
  fs::remove(client_key_, ec);
  fs::remove(dir / "client_key.pub", ec);
  NVLAB_RETURN_IF_ERROR(RunHostCommand(
      {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nvlab-test", "-f", client_key_}, {},
      &keygen_output));
  fs::copy_file(dir / "client_key.pub", dir / "authorized_keys",
                fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IoError("authorized_keys: " + ec.message());
  for (int i = 0; i < count; ++i) {
    LoopbackSshHost host;
    host.address = "127.0.0." + std::to_string(i + 2);
    NVLAB_RETURN_IF_ERROR(FreePort(host.address, &host.port));
    const fs::path host_key = dir / ("host_key_" + std::to_string(i));
    fs::remove(host_key, ec);
    fs::remove(host_key.string() + ".pub", ec);
    NVLAB_RETURN_IF_ERROR(
        RunHostCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key.string()}, {},
                       &keygen_output));
    const fs::path config = dir / ("sshd_config_" + std::to_string(i));
    std::ofstream out(config);
    out << "ListenAddress " << host.address << ":" << host.port << "\n"
        << "HostKey " << host_key.string() << "\n"
        << "PidFile none\n"
        << "AuthorizedKeysFile " << (dir / "authorized_keys").string()
        << "\n"
        // The test folder lives under a sticky, world-writable /var/tmp or /tmp.
        << "StrictModes no\n"
        << "PermitRootLogin prohibit-password\n"
        << "PasswordAuthentication no\n"
        << "KbdInteractiveAuthentication no\n"
        << "UsePAM no\n"
        << "MaxSessions 50\n"
        << "MaxStartups 50\n"
        << "Subsystem sftp /usr/lib/openssh/sftp-server\n";
    out.close();
    if (!out) return Status::IoError("cannot write " + config.string());
    SubprocessOptions options;
    options.stdout_to = SubprocessOptions::Stream::kFile;
    options.stdout_path = dir / ("sshd_" + std::to_string(i) + ".log");
    options.stderr_to = SubprocessOptions::Stream::kStdout;
    options.kill_with_parent = true;
    host.sshd = std::make_unique<Subprocess>();
    NVLAB_RETURN_IF_ERROR(Subprocess::Start({"/usr/sbin/sshd", "-D", "-e", "-f", config.string()},
                                            options, host.sshd.get()));
    const Deadline deadline = Deadline::In(std::chrono::seconds(20));
    while (!Accepts(host.address, host.port)) {
      if (host.sshd->TryReap() || deadline.expired()) {
        return Status::IoError("sshd on " + host.address + " did not start; see " +
                               options.stdout_path.string());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    hosts_.push_back(std::move(host));
  }
  return Status::Ok();
}

void LoopbackSshHosts::Kill(size_t i) {
  if (i >= hosts_.size() || !hosts_[i].sshd || !hosts_[i].sshd->running()) return;
  // Stop the listener first so that nothing new starts, then every process below it.
  const pid_t pid = hosts_[i].sshd->pid();
  kill(pid, SIGSTOP);
  for (pid_t p : Descendants(pid)) kill(p, SIGKILL);
  (void)hosts_[i].sshd->Kill(SIGKILL);
  (void)hosts_[i].sshd->Wait();
}

void LoopbackSshHosts::Stop() {
  for (size_t i = 0; i < hosts_.size(); ++i) Kill(i);
  hosts_.clear();
}

}  // namespace nvlab::testing
