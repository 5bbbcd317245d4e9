// nvlab_agent.cc -- nvlab-agent, the guest's command runner (PID 1 after the guest's init).
//
// It opens the virtio-serial port named "org.nvlab.agent", says hello, then serves requests
// one at a time (docs/formats/agent-protocol.md):
//   kResume        only at the template stage (init started the agent before touching the
//                  NVDIMMs, NVLAB_AGENT_STAGE=template): reseed the kernel's RNG, set the clock,
//                  set the NVDIMMs up (nvlab/agent/nvdimm_setup.h), and say hello again with
//                  NVLAB_PMEM
//                  (nvlab/resume_request.h; a warm start restores a guest saved at this stage);
//   kExec          run argv with stdin from /dev/null, forward stdout/stderr as they arrive
//                  (an empty stdout frame after each silent second: a keep-alive), then report
//                  how the command ended (refused at the template stage);
//   kExecRecorded  as kExec, between the recording marks (crash-state exploration);
//   kDetachNvdimms, kAttachNvdimms
//                  unmount the NVDIMMs' file systems and drop their block caches / mount them
//                  again, around the host's rewriting of the NVDIMMs (nvlab/agent/nvdimm_mounts.h);
//   kPtyOpen       an interactive shell on a pseudo-terminal, relayed until it ends (nvlab shell;
//                  nvlab/agent/pty_session.h);
//   kHelloRequest  say hello again, with the host's nonce (a host that connects to a guest that
//                  booted long ago, such as a libvirt domain);
//   kPowerOff      sync and power off.
// Hosts come and go (a libvirt domain outlives each nvlab): when the host disconnects, a read
// returns 0 and the decoder starts afresh, so half a request of the last host never corrupts
// the next one's. While no host is connected a write blocks, so the boot-time hello goes to
// the first host that connects; its nonce tells it apart from the answer to a hello-request.
// The agent is PID 1, so it must never exit: on a fatal error it prints to the console and powers
// the guest off, which the host sees as QEMU ending.
//
// `nvlab-agent prepare-nvdimms NS FS NVDIMMS SHARE` only sets the NVDIMMs up and exits 0 or 1:
// init runs it when it boots a guest by itself (a libvirt domain), before starting the agent.

#include <dirent.h>
#include <fcntl.h>
#include <linux/random.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nvlab/agent/boot_timing.h"
#include "nvlab/agent/nvdimm_mounts.h"
#include "nvlab/agent/nvdimm_setup.h"
#include "nvlab/agent/pty_session.h"
#include "nvlab/agent/recording_mark.h"
#include "nvlab/agent/sysfs_file.h"
#include "nvlab/agent_frame.h"
#include "nvlab/pty_request.h"
#include "nvlab/resume_request.h"

namespace {

using nvlab::agent::kBootTimingFile;
using nvlab::agent::kNvdimmEnvironmentFile;
using nvlab::agent::RecordBootPhase;

[[noreturn]] void PowerOff(const char* why) {
  if (why != nullptr) (void)std::fprintf(stderr, "nvlab-agent: error: %s; powering off\n", why);
  sync();
  reboot(RB_POWER_OFF);
  // Not PID 1 (a developer running it by hand): just end.
  _exit(1);
}

// FindAgentPort returns /dev/<port> for the virtio-serial port named kAgentPortName.
std::string FindAgentPort() {
  const char* dir_path = "/sys/class/virtio-ports";
  DIR* dir = opendir(dir_path);
  if (dir == nullptr) return "";
  std::string found;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string name;
    const std::string name_file = std::string(dir_path) + "/" + entry->d_name + "/name";
    if (!nvlab::agent::ReadSysfsFile(name_file, &name).ok()) continue;
    if (name == nvlab::kAgentPortName) {
      found = std::string("/dev/") + entry->d_name;
      break;
    }
  }
  closedir(dir);
  return found;
}

bool WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 100);
        continue;
      }
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// kKeepAliveMs: how long a command may be silent before the agent sends an empty frame.
constexpr int kKeepAliveMs = 1000;

bool Send(int port, nvlab::FrameType type, std::string_view payload) {
  return WriteAll(port, nvlab::EncodeFrame(type, payload));
}

// ReadSmallFile returns a small file's text ("" when missing or unreadable).
std::string ReadSmallFile(const char* path) {
  std::string text;
  if (!nvlab::agent::ReadSysfsFile(path, &text).ok()) text.clear();
  return text;
}

// HasKernelParameter says whether the kernel command line holds `word` as one of its words.
bool HasKernelParameter(const std::string& cmdline, std::string_view word) {
  size_t start = 0;
  while (start < cmdline.size()) {
    const size_t end = std::min(cmdline.find_first_of(" \n", start), cmdline.size());
    if (std::string_view(cmdline).substr(start, end - start) == word) return true;
    start = end + 1;
  }
  return false;
}

// ForEachKeyValueLine calls f(key, value) for each "KEY=VALUE" line of text (others skipped).
template <typename F>
void ForEachKeyValueLine(const std::string& text, F f) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    if (eq != std::string::npos) f(line.substr(0, eq), line.substr(eq + 1));
    start = end + 1;
  }
}

// Stage: kTemplate until a resume request has set the NVDIMMs up, then kReady. Init starts the
// agent at kReady when it set the NVDIMMs up itself (a libvirt domain's boot).
enum class Stage { kTemplate, kReady };

std::string HelloPayload(Stage stage) {
  std::string hello = "agent=nvlab-agent\nprotocol=1\n";
  hello += stage == Stage::kTemplate ? "stage=template\n" : "stage=ready\n";
  utsname u{};
  if (uname(&u) == 0) hello += std::string("kernel=") + u.release + "\n";
  for (const char* key : {"NVLAB_PMEM", "NVLAB_PMEM_ALL"}) {
    if (const char* value = getenv(key)) hello += std::string(key) + "=" + value + "\n";
  }
  hello += "uptime=" + nvlab::agent::GuestUptime() + "\n";
  ForEachKeyValueLine(ReadSmallFile(kBootTimingFile),
                      [&](const std::string& key, const std::string& value) {
                        hello += "timing." + key + "=" + value + "\n";
                      });
  return hello;
}

// ReapOrphans collects exited processes other than `child` (the agent is PID 1: orphans of the
// guest's commands end up here). Returns true with *status when `child` itself has ended.
bool Reap(pid_t child, int* status) {
  bool child_done = false;
  for (;;) {
    int s = 0;
    const pid_t pid = waitpid(-1, &s, WNOHANG);
    if (pid <= 0) break;
    if (pid == child) {
      *status = s;
      child_done = true;
    }
  }
  return child_done;
}

// RunCommand runs argv and streams its output to the host; `recorded`: between the recording
// marks (nvlab/agent/recording_mark.h). Returns false when the port broke.
bool RunCommand(int port, const std::vector<std::string>& argv, bool recorded) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return Send(port, nvlab::FrameType::kError, std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t child = fork();
  if (child < 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[0]);
    close(err_pipe[1]);
    return Send(port, nvlab::FrameType::kError, std::string("fork: ") + std::strerror(errno));
  }
  if (child == 0) {
    setsid();
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    (void)signal(SIGPIPE, SIG_DFL);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (recorded) nvlab::agent::MarkRecordingBegin();
    execvp(args[0], args.data());
    (void)std::fprintf(stderr, "nvlab-agent: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  // The child's pidfd wakes the loop the moment it ends: no polling interval is added to every
  // command's round trip (a check loop runs thousands). -1 (no pidfd_open) falls back to
  // looking every 10 ms.
  const int child_fd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {child_fd, POLLIN, 0}};
  const nvlab::FrameType types[2] = {nvlab::FrameType::kStdout, nvlab::FrameType::kStderr};
  using Clock = std::chrono::steady_clock;
  int status = 0;
  bool exited = false;
  int open_pipes = 2;
  char buf[16384];
  // Stream until the command has ended and both pipes closed. Once the command itself has
  // exited, background processes that still hold its pipes get a short grace period, not
  // forever. A command that closed its pipes but still runs is waited for.
  constexpr auto kGraceAfterExit = std::chrono::milliseconds(500);
  Clock::time_point exited_at{};
  // A silent command still shows the host that the guest lives: an empty stdout frame after
  // each second without output (the host's hang detection, --hang-timeout, counts only a guest
  // whose agent and console both fall silent).
  Clock::time_point last_sent = Clock::now();
  while (!exited || open_pipes > 0) {
    const Clock::time_point now = Clock::now();
    if (exited && now - exited_at >= kGraceAfterExit) break;
    auto wait = std::chrono::milliseconds(kKeepAliveMs) -
                std::chrono::duration_cast<std::chrono::milliseconds>(now - last_sent);
    if (exited) {
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                kGraceAfterExit - (now - exited_at)));
    } else if (child_fd < 0) {
      wait = std::min(wait, std::chrono::milliseconds(10));
    }
    const int n = poll(fds, exited ? 2 : 3, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t r = read(fds[i].fd, buf, sizeof(buf));
      if (r > 0) {
        if (!Send(port, types[i], std::string_view(buf, static_cast<size_t>(r)))) return false;
        last_sent = Clock::now();
      } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
    if (!exited && Reap(child, &status)) {
      exited = true;
      exited_at = Clock::now();
    }
    if (Clock::now() - last_sent >= std::chrono::milliseconds(kKeepAliveMs)) {
      if (!Send(port, nvlab::FrameType::kStdout, "")) return false;
      last_sent = Clock::now();
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd >= 0) close(fds[i].fd);
  }
  if (child_fd >= 0) close(child_fd);
  while (!exited) {  // Only after a failed poll.
    exited = Reap(child, &status);
    if (!exited) usleep(10000);
  }
  if (recorded) nvlab::agent::MarkRecordingEnd();
  nvlab::CommandStatus result;
  if (WIFSIGNALED(status)) {
    result.signaled = true;
    result.value = WTERMSIG(status);
  } else {
    result.value = WEXITSTATUS(status);
  }
  return Send(port, nvlab::FrameType::kExit, nvlab::EncodeExit(result));
}

// Reseed mixes the host's seed into the kernel's RNG, credited, and forces the CRNG to reseed
// from it, so that every guest restored from one template draws its own numbers from here on.
std::string Reseed(const std::array<uint8_t, 32>& seed) {
  const int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::string("open /dev/urandom: ") + std::strerror(errno);
  // rand_pool_info ends in a flexible array: the seed follows the header.
  alignas(rand_pool_info) unsigned char pool[sizeof(rand_pool_info) + 32] = {};
  auto* info = reinterpret_cast<rand_pool_info*>(pool);
  info->entropy_count = 256;
  info->buf_size = 32;
  std::memcpy(pool + sizeof(rand_pool_info), seed.data(), 32);
  std::string error;
  if (ioctl(fd, RNDADDENTROPY, info) != 0) {
    error = std::string("RNDADDENTROPY: ") + std::strerror(errno);
  } else if (ioctl(fd, RNDRESEEDCRNG) != 0) {
    error = std::string("RNDRESEEDCRNG: ") + std::strerror(errno);
  }
  close(fd);
  return error;
}

// LoadNvdimmEnvironment exports the NVLAB_PMEM* lines of the NVDIMM setup.
void LoadNvdimmEnvironment() {
  ForEachKeyValueLine(ReadSmallFile(kNvdimmEnvironmentFile),
                      [](const std::string& key, const std::string& value) {
                        if (key.starts_with("NVLAB_PMEM")) setenv(key.c_str(), value.c_str(), 1);
                      });
}

// PrepareNvdimms sets the NVDIMMs up as the request says; "" or what failed.
std::string PrepareNvdimms(const nvlab::ResumeRequest& request) {
  nvlab::agent::NvdimmSettings settings;
  nvlab::Status s =
      nvlab::agent::ParseNvdimmSettings(request.ns, request.fs, std::to_string(request.nvdimms),
                                        request.share ? "1" : "0", &settings);
  settings.blank = request.blank;
  if (s.ok()) s = nvlab::agent::PrepareNvdimms(settings);
  return s.ok() ? "" : "NVDIMM setup: " + s.message();
}

// Resume carries out a resume request (nvlab/resume_request.h) and returns "" or what failed.
std::string Resume(const nvlab::ResumeRequest& request) {
  RecordBootPhase("resume");
  if (std::string error = Reseed(request.seed); !error.empty()) return error;
  if (request.has_realtime) {
    timespec now{};
    now.tv_sec = static_cast<time_t>(request.realtime_seconds);
    now.tv_nsec = request.realtime_nanoseconds;
    if (clock_settime(CLOCK_REALTIME, &now) != 0) {
      return std::string("clock_settime: ") + std::strerror(errno);
    }
  }
  if (std::string error = PrepareNvdimms(request); !error.empty()) return error;
  LoadNvdimmEnvironment();
  RecordBootPhase("ready");
  return "";
}

// PrepareNvdimmsCommand is `nvlab-agent prepare-nvdimms NS FS NVDIMMS SHARE`.
int PrepareNvdimmsCommand(int argc, char** argv) {
  nvlab::agent::NvdimmSettings settings;
  nvlab::Status s =
      argc == 6 ? nvlab::agent::ParseNvdimmSettings(argv[2], argv[3], argv[4], argv[5], &settings)
                : nvlab::Status::InvalidArgument(
                      "usage: nvlab-agent prepare-nvdimms devdax|fsdax|raw ext4|xfs NVDIMMS 0|1");
  if (!s.ok()) {
    (void)std::printf("nvlab-init: error: %s\n", s.message().c_str());
    return 1;
  }
  return nvlab::agent::PrepareNvdimms(settings).ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "prepare-nvdimms") == 0) {
    return PrepareNvdimmsCommand(argc, argv);
  }
  (void)signal(SIGPIPE, SIG_IGN);
  std::string port_path;
  // The port appears once virtio_console has probed; init loaded it, but give it a moment.
  for (int i = 0; i < 100 && port_path.empty(); ++i) {
    port_path = FindAgentPort();
    if (port_path.empty()) usleep(20000);
  }
  if (port_path.empty()) PowerOff("no virtio-serial port named org.nvlab.agent");
  const int port = open(port_path.c_str(), O_RDWR | O_CLOEXEC);
  if (port < 0) PowerOff("cannot open the agent port");
  const char* stage_env = getenv("NVLAB_AGENT_STAGE");
  Stage stage = stage_env != nullptr && std::strcmp(stage_env, "template") == 0 ? Stage::kTemplate
                                                                                : Stage::kReady;
  unsetenv("NVLAB_AGENT_STAGE");  // not for the guest's commands
  RecordBootPhase("agent");
  // nvlab.preload=0: a cold boot, resumed at once and never saved; its setup loads what the
  // machine needs (a devdax machine no ext4).
  const std::string cmdline = ReadSmallFile("/proc/cmdline");
  if (stage == Stage::kTemplate && !HasKernelParameter(cmdline, "nvlab.preload=0")) {
    // In the template, so that warm starts have them loaded; a failure here shows again, with
    // its reason, when the resume request's setup loads them.
    // nvlab.labels=1 (an NVDIMM has a label area): nfit would read the template's labels.
    const bool labels = HasKernelParameter(cmdline, "nvlab.labels=1");
    if (const nvlab::Status s = nvlab::agent::PreloadNvdimmDrivers(!labels); !s.ok()) {
      (void)std::fprintf(stderr, "nvlab-agent: preloading the NVDIMM drivers: %s\n",
                         s.message().c_str());
    }
    RecordBootPhase("drivers_done");
  }
  if (!Send(port, nvlab::FrameType::kHello, HelloPayload(stage)))
    PowerOff("cannot write the agent port");
  (void)std::fprintf(stderr, "nvlab-agent: listening on %s\n", port_path.c_str());

  nvlab::FrameDecoder decoder;
  // The NVDIMM file systems a detach-nvdimms request unmounted, for the next attach-nvdimms.
  std::vector<nvlab::agent::NvdimmMount> detached_mounts;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(port, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      PowerOff("read from the agent port failed");
    }
    if (n == 0) {  // The host is not connected: forget its bytes and wait for the next one.
      decoder = nvlab::FrameDecoder();
      int ignored = 0;
      Reap(-1, &ignored);
      usleep(50000);
      continue;
    }
    decoder.Feed(std::string_view(buf, static_cast<size_t>(n)));
    while (auto frame = decoder.Next()) {
      if (frame->type == nvlab::FrameType::kPowerOff) PowerOff(nullptr);
      if (frame->type == nvlab::FrameType::kHelloRequest) {
        const auto nonce = nvlab::DecodeHelloRequest(frame->payload);
        const bool sent = nonce ? Send(port, nvlab::FrameType::kHello,
                                       HelloPayload(stage) + nvlab::HelloRequestLine(*nonce))
                                : Send(port, nvlab::FrameType::kError, "malformed hello-request");
        if (!sent) PowerOff("cannot write the agent port");
        continue;
      }
      if (frame->type == nvlab::FrameType::kResume) {
        const auto request = nvlab::DecodeResumeRequest(frame->payload);
        std::string error;
        if (!request) {
          error = "malformed resume request";
        } else if (stage != Stage::kTemplate) {
          error = "the guest is already resumed";
        } else {
          error = Resume(*request);
        }
        if (error.empty()) stage = Stage::kReady;
        const bool sent = error.empty()
                              ? Send(port, nvlab::FrameType::kHello,
                                     HelloPayload(stage) + nvlab::HelloRequestLine(request->nonce))
                              : Send(port, nvlab::FrameType::kError, "resume: " + error);
        if (!sent) PowerOff("cannot write the agent port");
        continue;
      }
      if (stage == Stage::kTemplate) {
        Send(port, nvlab::FrameType::kError, "the guest is at the template stage (not resumed)");
        continue;
      }
      if (frame->type == nvlab::FrameType::kDetachNvdimms ||
          frame->type == nvlab::FrameType::kAttachNvdimms) {
        const nvlab::Status s = frame->type == nvlab::FrameType::kDetachNvdimms
                                    ? nvlab::agent::DetachNvdimms(&detached_mounts)
                                    : nvlab::agent::AttachNvdimms(&detached_mounts);
        const bool sent = s.ok() ? Send(port, nvlab::FrameType::kExit, nvlab::EncodeExit({}))
                                 : Send(port, nvlab::FrameType::kError, s.message());
        if (!sent) PowerOff("cannot write the agent port");
        continue;
      }
      if (frame->type == nvlab::FrameType::kPtyOpen) {
        const auto request = nvlab::DecodePtyOpen(frame->payload);
        if (!request) {
          Send(port, nvlab::FrameType::kError, "malformed pty-open request");
          continue;
        }
        const auto end = nvlab::agent::RunPtySession(
            port, &decoder, *request, [port](nvlab::FrameType type, std::string_view payload) {
              return Send(port, type, payload);
            });
        if (end == nvlab::agent::PtySessionEnd::kPowerOff) PowerOff(nullptr);
        if (end == nvlab::agent::PtySessionEnd::kPortBroken) {
          PowerOff("the agent port broke during an interactive shell");
        }
        if (end == nvlab::agent::PtySessionEnd::kHostLeft) decoder = nvlab::FrameDecoder();
        continue;
      }
      const bool recorded = frame->type == nvlab::FrameType::kExecRecorded;
      if (frame->type != nvlab::FrameType::kExec && !recorded) {
        Send(port, nvlab::FrameType::kError, "unexpected request");
        continue;
      }
      auto argv = nvlab::DecodeExec(frame->payload);
      if (!argv) {
        Send(port, nvlab::FrameType::kError, "malformed exec request");
        continue;
      }
      if (!RunCommand(port, *argv, recorded)) {
        PowerOff("the agent port broke while running a command");
      }
    }
    if (decoder.failed()) PowerOff(("malformed request: " + decoder.error()).c_str());
  }
}
