// guest.cc -- Guest: the life cycle of one lab machine under QEMU.

#include "nvlab/guest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "nvlab/hex.h"
#include "nvlab/interruption.h"
#include "nvlab/nvdimm_file.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace fs = std::filesystem;

namespace {

// MakeRunDir creates a private folder for one guest's sockets and files. Unix socket paths are
// short (108 bytes), so a long TMPDIR falls back to /tmp.
Status MakeRunDir(fs::path* out) {
  std::string base = "/tmp";
  if (const char* tmp = std::getenv("TMPDIR");
      tmp != nullptr && *tmp != '\0' && std::strlen(tmp) < 60) {
    base = tmp;
  }
  std::string templ = base + "/nvlab-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return Status::IoErrorFromErrno("cannot create a run folder in " + base, errno);
  }
  *out = templ;
  return Status::Ok();
}

// The files of boot number n in the run folder: each boot keeps its own console, QEMU log and
// cut report, so a failure after a power cut still shows the first boot's.
fs::path ConsoleLogOf(const fs::path& run_dir, int boot) {
  return run_dir / ("console-" + std::to_string(boot) + ".log");
}
fs::path QemuLogOf(const fs::path& run_dir, int boot) {
  return run_dir / ("qemu-" + std::to_string(boot) + ".log");
}
fs::path CutReportOf(const fs::path& run_dir, int boot) {
  return run_dir / ("cut-report-" + std::to_string(boot) + ".json");
}

}  // namespace

std::vector<std::string> ShellCommand(std::string_view text) {
  return {"sh", "-c", std::string(text)};
}

Guest::Guest(GuestConfig config) : config_(std::move(config)) {}

Status Guest::Create(GuestConfig config, std::unique_ptr<Guest>* out) {
  const Machine& m = config.machine;
  if (config.kernel.empty() || config.initrd.empty()) {
    return Status::InvalidArgument("no guest kernel/initrd given (run `nvlab image`)");
  }
  if (config.nvdimm_images.size() > m.nvdimms.size()) {
    return Status::InvalidArgument(
        "--nvdimm-image given " + std::to_string(config.nvdimm_images.size()) +
        " times but the machine has " + std::to_string(m.nvdimms.size()) + " NVDIMMs");
  }
  if (config.model.enabled && config.accel == Accel::kKvm) {
    return Status::InvalidArgument(
        "the persistence model needs TCG: --accel kvm implies --model off");
  }
  if (!config.share_dir.empty() && !fs::is_directory(config.share_dir)) {
    return Status::NotFound("--share " + config.share_dir.string() + " is not a directory");
  }
  std::unique_ptr<Guest> guest(new Guest(std::move(config)));
  NVLAB_RETURN_IF_ERROR(MakeRunDir(&guest->run_dir_));
  const GuestConfig& c = guest->config_;
  const Machine& machine = c.machine;  // `config` was moved from: use the guest's copy
  for (size_t i = 0; i < machine.nvdimms.size(); ++i) {
    fs::path file = i < c.nvdimm_images.size() && !c.nvdimm_images[i].empty()
                        ? fs::absolute(c.nvdimm_images[i])
                        : guest->run_dir_ / ("nvdimm" + std::to_string(i) + ".img");
    if (c.dry_run) {
      bool exists = false;
      NVLAB_RETURN_IF_ERROR(CheckNvdimmFile(file, machine.nvdimms[i].size, &exists));
      guest->Log("NVDIMM " + std::to_string(i) + ": " + file.string() +
                 (exists ? " (existing content)" : " (would be created, zeroed)"));
    } else {
      bool created = false;
      NVLAB_RETURN_IF_ERROR(PrepareNvdimmFile(file, machine.nvdimms[i].size, &created));
      guest->Log("NVDIMM " + std::to_string(i) + ": " + file.string() +
                 (created ? " (new, zeroed)" : " (existing content)"));
    }
    guest->nvdimm_files_.push_back(file);
  }
  const uint64_t node_ram = machine.memory / static_cast<uint64_t>(machine.numa_nodes);
  for (int n = 0; n < machine.numa_nodes; ++n) {
    const fs::path ram = guest->run_dir_ / ("ram" + std::to_string(n));
    guest->ram_files_.push_back(ram);
    if (c.dry_run) continue;
    const int fd = open(ram.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(node_ram)) != 0) {
      const int err = errno;
      if (fd >= 0) close(fd);
      return Status::IoErrorFromErrno("cannot create guest RAM file " + ram.string(), err);
    }
    close(fd);
  }
  *out = std::move(guest);
  return Status::Ok();
}

Guest::~Guest() {
  KillQemu();
  if (agent_fd_ >= 0) close(agent_fd_);
  std::error_code ec;
  if (!run_dir_.empty()) fs::remove_all(run_dir_, ec);
}

void Guest::Log(const std::string& line) const {
  if (config_.log != nullptr) *config_.log << "nvlab: " << line << "\n" << std::flush;
}

std::string Guest::PluginArgument(int boot) const {
  if (!config_.model.enabled) return "";
  ModelPluginFiles files;
  files.nvdimm_files = nvdimm_files_;
  files.ram_files = ram_files_;
  files.report = CutReportOf(run_dir_, boot);
  files.control_socket = run_dir_ / "model.sock";
  return ModelPluginArgument(config_.machine, config_.model, files, config_.kernel_task_layout);
}

std::vector<std::string> Guest::BootCommandLine(int boot) const {
  QemuLaunch launch;
  launch.qemu = config_.qemu;
  launch.accel = config_.accel;
  launch.kernel = config_.kernel;
  launch.initrd = config_.initrd;
  launch.nvdimm_files = nvdimm_files_;
  launch.ram_files = ram_files_;
  launch.qmp_socket = run_dir_ / "qmp.sock";
  launch.agent_socket = run_dir_ / "agent.sock";
  launch.console_log = ConsoleLogOf(run_dir_, boot);
  launch.share_dir = config_.share_dir.empty() ? fs::path() : fs::absolute(config_.share_dir);
  launch.plugin = PluginArgument(boot);
  launch.deterministic = config_.deterministic;
  return QemuCommandLine(config_.machine, launch);
}

Status Guest::Spawn(const std::vector<std::string>& argv) {
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kFile;
  options.stdout_path = qemu_log_;
  options.stderr_to = SubprocessOptions::Stream::kStdout;
  // Its own group, so that a Ctrl-C reaches only nvlab, which then cuts or stops the guest; and
  // QEMU must not outlive nvlab: a killed nvlab takes its guests with it.
  options.new_process_group = true;
  options.kill_with_parent = true;
  return Subprocess::Start(argv, options, &qemu_);
}

bool Guest::ReapQemu() {
  return qemu_.TryReap();
}

void Guest::KillQemu() {
  if (!qemu_.running()) return;
  (void)qemu_.Kill(SIGKILL);
  // After SIGKILL the only wait is the kernel's tear-down; no deadline is needed.
  (void)qemu_.Wait();
  qmp_.Close();
  if (agent_fd_ >= 0) close(agent_fd_);
  agent_fd_ = -1;
}

std::string Guest::ConsoleTail(int lines) const {
  std::ifstream in(console_log_, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > 65536 ? size - 65536 : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text = EscapeUntrustedLines(text);
  if (text.empty()) return text;  // A guest that died before printing anything.
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// LabFailure adds where the guest stopped: the QEMU log and the console tail.
Status Guest::LabFailure(const Status& status) const {
  std::string detail;
  std::ifstream qlog(qemu_log_);
  std::string qemu_text((std::istreambuf_iterator<char>(qlog)), std::istreambuf_iterator<char>());
  if (qemu_text.size() > 2000) qemu_text = qemu_text.substr(qemu_text.size() - 2000);
  if (!qemu_text.empty()) detail += "\nQEMU said:\n" + EscapeUntrustedLines(qemu_text);
  const std::string tail = ConsoleTail(15);
  detail +=
      tail.empty() ? "\n(the guest console is empty)" : "\nguest console (last lines):\n" + tail;
  const std::string msg = status.message() + detail;
  switch (status.code()) {
    case Status::Code::kTimeout:
      return Status::Timeout(msg);
    case Status::Code::kGuestDied:
      return Status::GuestDied(msg);
    case Status::Code::kProtocolError:
      return Status::ProtocolError(msg);
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(msg);
    default:
      return Status::IoError(msg);
  }
}

Status Guest::ConnectAgent(Deadline deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = (run_dir_ / "agent.sock").string();
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (;;) {
    agent_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (agent_fd_ < 0) return Status::IoErrorFromErrno("socket", errno);
    if (connect(agent_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) break;
    const int err = errno;
    close(agent_fd_);
    agent_fd_ = -1;
    if (err != ENOENT && err != ECONNREFUSED) return Status::IoErrorFromErrno("agent connect", err);
    if (deadline.expired() || ReapQemu()) {
      return Status::GuestDied("QEMU did not open the agent socket");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  decoder_ = FrameDecoder();
  return Status::Ok();
}

Status Guest::Boot() {
  if (running()) return Status::FailedPrecondition("the guest is already running");
  if (config_.dry_run) return Status::FailedPrecondition("a dry-run guest does not boot");
  ++boots_;
  const std::string n = std::to_string(boots_);
  console_log_ = ConsoleLogOf(run_dir_, boots_);
  qemu_log_ = QemuLogOf(run_dir_, boots_);
  report_path_ = CutReportOf(run_dir_, boots_);
  for (const char* sock : {"qmp.sock", "agent.sock", "model.sock"}) {
    std::error_code ec;
    fs::remove(run_dir_ / sock, ec);
  }
  hello_.clear();
  cut_pending_report_ = false;

  const std::vector<std::string> argv = BootCommandLine(boots_);
  if (config_.log != nullptr) {
    std::string line = "boot " + n + ":";
    for (const std::string& a : argv) line += " " + a;
    Log(line);
  }
  NVLAB_RETURN_IF_ERROR(Spawn(argv));
  const Deadline deadline = Deadline::In(config_.boot_timeout);
  // Wait for QMP in short rounds so that a QEMU that dies at start is noticed at once.
  const Deadline qmp_deadline = deadline.Earlier(Deadline::In(std::chrono::seconds(20)));
  Status s;
  do {
    s = qmp_.Connect(run_dir_ / "qmp.sock", Deadline::In(std::chrono::milliseconds(500)));
  } while (s.code() == Status::Code::kTimeout && !qmp_deadline.expired() && !ReapQemu());
  if (!s.ok()) {
    const bool died = ReapQemu();
    KillQemu();
    return LabFailure(died ? Status::GuestDied("QEMU exited at start") : s);
  }
  s = ConnectAgent(deadline);
  if (s.ok()) s = qmp_.Execute("cont", "", deadline);
  if (s.ok()) s = WaitForHello(deadline);
  if (!s.ok()) {
    KillQemu();
    return LabFailure(s);
  }
  Log("boot " + n + ": guest ready, NVLAB_PMEM=" + hello_["NVLAB_PMEM"]);
  return Status::Ok();
}

Status Guest::WaitForHello(Deadline deadline) {
  for (;;) {
    if (auto frame = decoder_.Next()) {
      if (frame->type != FrameType::kHello) {
        return Status::ProtocolError("the agent spoke before saying hello");
      }
      std::istringstream lines(frame->payload);
      std::string line;
      while (std::getline(lines, line)) {
        const size_t eq = line.find('=');
        if (eq == std::string::npos || eq == 0 || eq > 64) {
          return Status::ProtocolError("malformed hello line from the agent");
        }
        hello_[line.substr(0, eq)] = EscapeUntrusted(line.substr(eq + 1));
      }
      return Status::Ok();
    }
    if (decoder_.failed()) return Status::ProtocolError("agent: " + decoder_.error());
    if (ReapQemu()) return Status::GuestDied("QEMU ended before the guest was ready");
    if (const int sig = InterruptionSignal()) {
      return Status::Cancelled("interrupted by signal " + std::to_string(sig) + " during boot");
    }
    if (deadline.expired()) {
      return Status::Timeout("the guest did not become ready within " +
                             std::to_string(config_.boot_timeout.count() / 1000) + " s");
    }
    pollfd p{agent_fd_, POLLIN, 0};
    poll(&p, 1, deadline.RemainingMs(100));
    char buf[4096];
    const ssize_t r = read(agent_fd_, buf, sizeof(buf));
    if (r > 0) decoder_.Feed(std::string_view(buf, static_cast<size_t>(r)));
    if (r == 0) return Status::GuestDied("QEMU closed the agent socket");
  }
}

Status Guest::Run(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
                  RunResult* result) {
  *result = RunResult();
  if (!running() || agent_fd_ < 0) return Status::FailedPrecondition("the guest is not running");
  const auto payload = EncodeExec(argv);
  if (!payload) return Status::InvalidArgument("command is empty, too long or holds a NUL byte");
  const std::string request = EncodeFrame(FrameType::kExec, *payload);
  size_t sent = 0;
  char buf[65536];
  for (;;) {
    while (auto frame = decoder_.Next()) {
      switch (frame->type) {
        case FrameType::kStdout:
          sink->Stdout(frame->payload);
          break;
        case FrameType::kStderr:
          sink->Stderr(frame->payload);
          break;
        case FrameType::kExit: {
          auto status = DecodeExit(frame->payload);
          if (!status)
            return LabFailure(Status::ProtocolError("malformed exit frame from the agent"));
          result->status = *status;
          return Status::Ok();
        }
        case FrameType::kError:
          return LabFailure(Status::IoError("the agent could not run the command: " +
                                            EscapeUntrusted(frame->payload.substr(0, 300))));
        default:
          return LabFailure(Status::ProtocolError("unexpected frame from the agent"));
      }
    }
    if (decoder_.failed()) {
      KillQemu();
      return LabFailure(Status::ProtocolError("agent: " + decoder_.error()));
    }
    if (ReapQemu()) {
      if (config_.model.enabled && fs::exists(report_path_)) {
        result->cut_by_guest = true;
        cut_pending_report_ = true;
        qmp_.Close();
        close(agent_fd_);
        agent_fd_ = -1;
        return Status::Ok();
      }
      qmp_.Close();
      return LabFailure(Status::GuestDied("QEMU ended while the command ran"));
    }
    if (deadline.expired()) {
      KillQemu();
      return LabFailure(Status::Timeout("the command was still running at the deadline"));
    }
    if (const int sig = InterruptionSignal()) {
      KillQemu();
      return Status::Cancelled("interrupted by signal " + std::to_string(sig) +
                               " while the command ran; the guest was killed");
    }
    pollfd p{agent_fd_, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    poll(&p, 1, deadline.RemainingMs(100));
    if (sent < request.size() && (p.revents & POLLOUT)) {
      const ssize_t w = send(agent_fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (w > 0) sent += static_cast<size_t>(w);
    }
    const ssize_t r = read(agent_fd_, buf, sizeof(buf));
    if (r > 0) decoder_.Feed(std::string_view(buf, static_cast<size_t>(r)));
    if (r == 0) {
      // QEMU closed the socket: it is ending; the next round reaps it.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

Status Guest::ReadCutReport(CutReport* report) {
  *report = CutReport();
  if (!config_.model.enabled) return Status::Ok();
  std::ifstream in(report_path_, std::ios::binary);
  if (!in) return Status::IoError("the persistence model wrote no cut report");
  std::string text(kMaxCutReportBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return ParseCutReport(text, report);
}

Status Guest::PowerCut(CutReport* report) {
  *report = CutReport();
  if (cut_pending_report_) {
    cut_pending_report_ = false;
    return ReadCutReport(report);
  }
  if (!running()) return Status::FailedPrecondition("the guest is not running");
  const Deadline deadline = Deadline::In(std::chrono::seconds(60));
  Status s = qmp_.Execute("stop", "", deadline);
  if (!s.ok()) {
    KillQemu();
    return LabFailure(s.WithContext("power cut: QMP stop"));
  }
  if (config_.model.enabled) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = (run_dir_ / "model.sock").string();
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    std::string answer;
    if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        send(fd, "cut\n", 4, MSG_NOSIGNAL) == 4) {
      char buf[512];
      while (answer.find('\n') == std::string::npos && answer.size() < 4096) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, deadline.RemainingMs()) <= 0) break;
        const ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0) break;
        answer.append(buf, static_cast<size_t>(r));
      }
    }
    if (fd >= 0) close(fd);
    if (!answer.starts_with("ok")) {
      KillQemu();
      return LabFailure(Status::IoError(
          "power cut: the persistence model did not settle the NVDIMMs (" +
          (answer.empty() ? std::string("no answer") : EscapeUntrusted(answer.substr(0, 200))) +
          ")"));
    }
  }
  KillQemu();
  Log("power cut: QEMU stopped and killed");
  return ReadCutReport(report);
}

Status Guest::PowerOff(Deadline deadline) {
  if (!running()) return Status::Ok();
  const std::string frame = EncodeFrame(FrameType::kPowerOff, "");
  if (agent_fd_ >= 0) send(agent_fd_, frame.data(), frame.size(), MSG_NOSIGNAL);
  while (!ReapQemu()) {
    if (deadline.expired()) {
      KillQemu();
      return Status::Timeout("the guest did not power off; QEMU was killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  qmp_.Close();
  if (agent_fd_ >= 0) close(agent_fd_);
  agent_fd_ = -1;
  return Status::Ok();
}

}  // namespace nvlab
