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
#include <thread>

#include <sys/random.h>
#include <time.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "nvlab/console_recorder.h"
#include "nvlab/console_tail.h"
#include "nvlab/guest_timer_calibration.h"
#include "nvlab/hex.h"
#include "nvlab/interruption.h"
#include "nvlab/memory_image_file.h"
#include "nvlab/model_control.h"
#include "nvlab/nvdimm_file.h"
#include "nvlab/qemu_firmware.h"
#include "nvlab/run_folder.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace fs = std::filesystem;

namespace {

// The files of boot number n in the run folder: each boot keeps its own console, QEMU log and
// cut report, so a failure after a power cut still shows the first boot's.
fs::path ConsoleLogOf(const fs::path& run_dir, int boot) {
  return run_dir / ("console-" + std::to_string(boot) + ".log");
}
// The console's socket is per boot too: QEMU of boot n connects to it (nvlab/console_recorder.h).
fs::path ConsoleSocketOf(const fs::path& run_dir, int boot) {
  return run_dir / ("console-" + std::to_string(boot) + ".sock");
}
fs::path QemuLogOf(const fs::path& run_dir, int boot) {
  return run_dir / ("qemu-" + std::to_string(boot) + ".log");
}
// The migration capability of warm starts: leave shared memory (the RAM and NVDIMM files) out
// of the saved state (docs/design/warm-starts.md).
constexpr char kIgnoreShared[] =
    R"({"capabilities":[{"capability":"x-ignore-shared","state":true}]})";

// FileSizeOf is a RAM file's size (0 when it cannot be read: the reservation or copy then
// fails with the reason).
uint64_t FileSizeOf(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
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
  if (config.gdb_port != 0 && config.warm_template) {
    return Status::InvalidArgument("a guest debugged with gdb boots cold (no warm template)");
  }
  if (!config.share_dir.empty() && !fs::is_directory(config.share_dir)) {
    return Status::NotFound("--share " + config.share_dir.string() + " is not a directory");
  }
  std::unique_ptr<Guest> guest(new Guest(std::move(config)));
  NVLAB_RETURN_IF_ERROR(MakeRunFolder(&guest->run_dir_, guest->config_.log));
  const GuestConfig& c = guest->config_;
  const Machine& machine = c.machine;  // `config` was moved from: use the guest's copy
  std::vector<fs::path> named;
  for (const fs::path& f : c.nvdimm_images) named.push_back(f.empty() ? f : fs::absolute(f));
  NVLAB_RETURN_IF_ERROR(NvdimmFileLocks::CheckDistinct(named));
  for (size_t i = 0; i < machine.nvdimms.size(); ++i) {
    const bool user_file = i < named.size() && !named[i].empty();
    fs::path file =
        user_file ? named[i] : guest->run_dir_ / ("nvdimm" + std::to_string(i) + ".img");
    if (c.dry_run) {
      bool exists = false;
      NVLAB_RETURN_IF_ERROR(CheckNvdimmFile(file, machine.nvdimms[i].size, &exists));
      guest->Log("NVDIMM " + std::to_string(i) + ": " + file.string() +
                 (exists ? " (existing content)" : " (would be created, zeroed)"));
    } else {
      // A file the user named is locked before it is checked (another nvlab's is left as it
      // is), or right after it is created; the lock lasts as long as the guest.
      std::error_code ec;
      const bool locked_first = user_file && fs::exists(file, ec);
      if (locked_first) NVLAB_RETURN_IF_ERROR(guest->nvdimm_locks_.Lock(file));
      bool created = false;
      NVLAB_RETURN_IF_ERROR(PrepareNvdimmFile(file, machine.nvdimms[i].size, &created));
      if (user_file && !locked_first) NVLAB_RETURN_IF_ERROR(guest->nvdimm_locks_.Lock(file));
      guest->Log("NVDIMM " + std::to_string(i) + ": " + file.string() +
                 (created ? " (new, zeroed)" : " (existing content)"));
    }
    guest->nvdimm_files_.push_back(file);
  }
  guest->firmware_ = MinimalFirmwareFor(c.qemu);
  const uint64_t node_ram = machine.memory / static_cast<uint64_t>(machine.numa_nodes);
  const std::vector<uint64_t> ram_sizes(static_cast<size_t>(machine.numa_nodes), node_ram);
  if (c.dry_run) {
    guest->ram_files_ = GuestRamFolder::Planned(c.ram_base, guest->run_dir_, ram_sizes);
    if (c.accel == Accel::kTcg && !c.warm_template) {
      // What a cold boot would add to its command line (its own measurement of the TSC).
      guest->timer_calibration_ = TcgTimerCalibration(c.deterministic);
      guest->timer_calibrated_ = true;
    }
  } else {
    // Reserved whole before the guest runs: a full tmpfs or disk is an error at start, not a
    // SIGBUS in QEMU later. On tmpfs that is 0.07 s of zeroing (512 MiB), done while QEMU starts
    // (awaited in ColdBootToTemplateStage and Restore).
    NVLAB_RETURN_IF_ERROR(GuestRamFolder::Place(c.ram_base, guest->run_dir_, ram_sizes,
                                                &guest->ram_folder_,
                                                GuestRamFolder::Reservation::kInBackground));
    guest->ram_files_ = guest->ram_folder_.files();
    guest->ram_fresh_ = true;
    guest->Log(guest->ram_folder_.description());
    if (c.accel == Accel::kTcg && !c.warm_template) {
      // A cold boot's TSC measurement (30 ms, mostly sleeping) runs meanwhile too.
      guest->timer_calibration_pending_ =
          std::async(std::launch::async, TcgTimerCalibration, c.deterministic);
    }
  }
  *out = std::move(guest);
  return Status::Ok();
}

Guest::~Guest() {
  // Their threads work in run_dir_.
  if (staged_ram_.valid()) staged_ram_.wait();
  if (old_ram_removal_.valid()) old_ram_removal_.wait();
  KillQemu();
  agent_.Close();
  std::error_code ec;
  if (run_dir_.empty()) return;
  if (config_.keep_run_folder && !config_.dry_run) {
    const Status marked = MarkRunFolderKept(run_dir_);
    std::string line = "nvlab: kept the run folder: " + run_dir_.string();
    if (!marked.ok()) line += " (" + marked.message() + ": a later nvlab may sweep it)";
    if (config_.notices != nullptr) *config_.notices << line << "\n" << std::flush;
    return;
  }
  fs::remove_all(run_dir_, ec);
}

void Guest::Log(const std::string& line) const {
  if (config_.log != nullptr) *config_.log << "nvlab: " << line << "\n" << std::flush;
}

void Guest::Progress(const char* phase) const {
  if (config_.progress != nullptr) {
    config_.progress->Set("boot " + std::to_string(boots_) + ": " + phase);
  }
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

std::vector<std::string> Guest::BootCommandLine(int boot, bool saved) const {
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
  launch.console_socket = ConsoleSocketOf(run_dir_, boot);
  launch.share_dir = config_.share_dir.empty() ? fs::path() : fs::absolute(config_.share_dir);
  launch.plugin = PluginArgument(boot);
  launch.deterministic = config_.deterministic;
  launch.template_stage = true;
  launch.incoming = config_.warm_template.has_value();
  // Only a guest that may be saved loads the drivers before its hello (a restore's command line
  // is the template's: it keeps them too).
  launch.preload_drivers = launch.incoming || saved;
  launch.firmware = firmware_;
  // A restore does not run the kernel's calibrations: its command line carries none.
  if (!launch.incoming) launch.timer_calibration = timer_calibration_;
  launch.gdb_port = config_.gdb_port;
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
  // The console's listener exists before QEMU connects to it, at QEMU's start.
  console_.reset();
  NVLAB_RETURN_IF_ERROR(ConsoleRecorder::Start(ConsoleSocketOf(run_dir_, boots_), console_log_,
                                               config_.console_log_cap, &console_,
                                               config_.console_fd));
  return Subprocess::Start(argv, options, &qemu_);
}

bool Guest::ReapQemu() {
  if (!qemu_.TryReap()) return false;
  if (console_) console_->Stop();  // QEMU is gone: the log is complete once it is drained
  return true;
}

bool Guest::MachineGone() {
  if (ReapQemu()) return true;
  if (!watch_silence_ || config_.hang_timeout.count() <= 0) return false;
  auto last = agent_.last_received();
  if (console_) last = std::max(last, console_->last_output());
  if (std::chrono::steady_clock::now() - last < config_.hang_timeout) return false;
  hung_ = true;
  return true;
}

void Guest::KillQemu() {
  if (!qemu_.running()) {
    if (console_) console_->Stop();
    return;
  }
  (void)qemu_.Kill(SIGKILL);
  // After SIGKILL the only wait is the kernel's tear-down; no deadline is needed.
  (void)qemu_.Wait();
  if (console_) console_->Stop();
  qmp_.Close();
  agent_.Close();
}

std::string Guest::ConsoleTail(int lines) const {
  return ReadConsoleTail(console_log_, lines);
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
  std::string msg = status.message() + detail;
  // A panic explains whatever the wait saw (QEMU gone, a closed socket): it is named first.
  if (console_ && console_->panicked()) {
    return Status::GuestDied("the guest kernel panicked (" + console_->panic_line() + "); " + msg);
  }
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

void Guest::BeginBoot() {
  ++boots_;
  console_log_ = ConsoleLogOf(run_dir_, boots_);
  qemu_log_ = QemuLogOf(run_dir_, boots_);
  report_path_ = CutReportOf(run_dir_, boots_);
  for (const char* sock : {"qmp.sock", "agent.sock", "model.sock"}) {
    std::error_code ec;
    fs::remove(run_dir_ / sock, ec);
  }
  cut_pending_report_ = false;
  warm_ = false;
  clock_ = BootClock();
  clock_.begin = std::chrono::steady_clock::now();
}

Status Guest::StartQemu(const std::vector<std::string>& argv, Deadline deadline) {
  NVLAB_RETURN_IF_ERROR(LaunchQemu(argv));
  return AwaitQmp(deadline);
}

Status Guest::LaunchQemu(const std::vector<std::string>& argv) {
  if (config_.log != nullptr) {
    std::string line = "boot " + std::to_string(boots_) + ":";
    for (const std::string& a : argv) line += " " + a;
    Log(line);
  }
  return Spawn(argv);
}

Status Guest::AwaitQmp(Deadline deadline) {
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
  clock_.qemu_started = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status Guest::BootFailure(const Status& status) {
  Status s = status;
  if (s.code() == Status::Code::kTimeout) {
    s = Status::Timeout("the guest did not become ready within " +
                        std::to_string(config_.boot_timeout.count() / 1000) + " s");
  }
  KillQemu();
  return LabFailure(s);
}

Status Guest::ColdBootToTemplateStage(Deadline deadline, bool saved) {
  ram_fresh_ = false;
  // Measured once, for cold boots only (a restore does not run the kernel's calibrations).
  if (config_.accel == Accel::kTcg && !timer_calibrated_) {
    timer_calibration_ = timer_calibration_pending_.valid()
                             ? timer_calibration_pending_.get()
                             : TcgTimerCalibration(config_.deterministic);
    timer_calibrated_ = true;
  }
  Progress("starting QEMU");
  NVLAB_RETURN_IF_ERROR(StartQemu(BootCommandLine(boots_, saved), deadline));
  Progress("the kernel, init and the agent");
  // The RAM is reserved before the guest first runs.
  Status s = ram_folder_.AwaitReservation();
  if (s.ok()) s = agent_.Connect(run_dir_ / "agent.sock", deadline);
  if (s.ok()) {
    // With --gdb, gdb continues the guest, not nvlab.
    s = config_.gdb_port != 0 ? AwaitGdbContinue(deadline) : qmp_.Execute("cont", "", deadline);
  }
  clock_.continued = std::chrono::steady_clock::now();
  if (s.ok()) s = agent_.AwaitBootHello(deadline);
  if (s.ok()) {
    const auto stage = agent_.hello().find("stage");
    if (stage == agent_.hello().end() || stage->second != "template") {
      s = Status::ProtocolError(
          "the guest's agent did not stop at the template stage (a guest image from an older "
          "nvlab? run `nvlab image`)");
    }
  }
  if (!s.ok()) return BootFailure(s);
  clock_.template_hello = std::chrono::steady_clock::now();
  clock_.template_hello_values = agent_.hello();
  return Status::Ok();
}

Status Guest::AwaitGdbContinue(Deadline deadline) {
  if (config_.progress != nullptr) config_.progress->Clear();
  if (config_.notices != nullptr) {
    *config_.notices << "nvlab: boot " << boots_
                     << " waits for gdb on 127.0.0.1:" << config_.gdb_port
                     << " (it runs when gdb continues it)\n"
                     << config_.gdb_hints << std::flush;
  }
  for (;;) {
    std::string result;
    NVLAB_RETURN_IF_ERROR(qmp_.Execute("query-status", "", deadline, &result));
    const nlohmann::json reply = nlohmann::json::parse(result, nullptr, false);
    if (reply.is_object() && reply.value("running", false)) return Status::Ok();
    if (ReapQemu()) return Status::GuestDied("QEMU ended while it waited for gdb");
    if (const int sig = InterruptionSignal()) {
      return Status::Cancelled("interrupted by signal " + std::to_string(sig) +
                               " while the guest waited for gdb");
    }
    if (deadline.expired()) return Status::Timeout("gdb did not continue the guest");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status Guest::AwaitMigration(Deadline deadline, const char* what) {
  for (;;) {
    std::string result;
    NVLAB_RETURN_IF_ERROR(qmp_.Execute("query-migrate", "", deadline, &result));
    const nlohmann::json reply = nlohmann::json::parse(result, nullptr, false);
    const nlohmann::json* status =
        reply.is_object() && reply.contains("status") ? &reply["status"] : nullptr;
    const std::string state =
        status != nullptr && status->is_string() ? status->get<std::string>() : "";
    if (state == "completed") return Status::Ok();
    if (state == "failed" || state == "cancelled") {
      const auto desc = reply.find("error-desc");
      return Status::IoError(std::string("QEMU could not ") + what + ": " +
                             EscapeUntrusted(desc != reply.end() && desc->is_string()
                                                 ? desc->get<std::string>()
                                                 : state));
    }
    if (ReapQemu()) return Status::GuestDied(std::string("QEMU ended while it tried to ") + what);
    if (deadline.expired()) {
      return Status::Timeout(std::string("QEMU did not finish: ") + what);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status Guest::Restore(Deadline deadline, bool* template_failed) {
  *template_failed = true;
  Progress("restoring the saved guest");
  const GuestTemplate& t = *config_.warm_template;
  if (t.ram_files.size() != ram_files_.size()) {
    return Status::FailedPrecondition("the template has " + std::to_string(t.ram_files.size()) +
                                      " RAM files, the machine " +
                                      std::to_string(ram_files_.size()));
  }
  // A copy staged while the previous boot ran is used when it is whole and matches.
  bool staged = false;
  if (staged_ram_.valid()) {
    staged = staged_ram_.get().ok() && staged_ram_checksums_ == t.ram_checksums;
    // The previous boot's RAM files are moved aside and deleted in the background: freeing the
    // pages its QEMU dirtied takes up to half a second, which this boot need not wait for.
    std::vector<fs::path> old;
    for (size_t i = 0; i < ram_files_.size() && staged; ++i) {
      std::error_code ec;
      const fs::path aside = ram_files_[i].string() + ".old";
      fs::rename(ram_files_[i], aside, ec);
      if (!ec) old.push_back(aside);
      fs::rename(staged_ram_files_[i], ram_files_[i], ec);
      staged = !ec;
    }
    for (const fs::path& f : staged_ram_files_) {
      std::error_code ec;
      fs::remove(f, ec);
    }
    if (old_ram_removal_.valid()) old_ram_removal_.wait();
    old_ram_removal_ = std::async(std::launch::async, [old] {
      for (const fs::path& f : old) {
        std::error_code ec;
        fs::remove(f, ec);
      }
    });
  }
  for (size_t i = 0; i < ram_files_.size() && !staged && !ram_fresh_; ++i) {
    // No room is the host's problem, not the template's: no fallback, no rebuild.
    *template_failed = false;
    const Machine& m = config_.machine;
    NVLAB_RETURN_IF_ERROR(
        ReserveMemoryImage(ram_files_[i], m.memory / static_cast<uint64_t>(m.numa_nodes)));
    *template_failed = true;
  }
  if (stage_next_restore_) {
    stage_next_restore_ = false;
    staged_ram_files_.clear();
    for (const fs::path& f : ram_files_) staged_ram_files_.push_back(f.string() + ".next");
    staged_ram_checksums_.assign(ram_files_.size(), 0);
    // The thread touches only the template (read) and the .next files: nothing QEMU has open.
    staged_ram_ = std::async(std::launch::async, [this, from = t.ram_files] {
      for (size_t i = 0; i < from.size(); ++i) {
        NVLAB_RETURN_IF_ERROR(ReserveMemoryImage(staged_ram_files_[i], FileSizeOf(from[i])));
        NVLAB_RETURN_IF_ERROR(
            CopyMemoryImageIntoReserved(from[i], staged_ram_files_[i], &staged_ram_checksums_[i]));
      }
      return Status::Ok();
    });
  }
  ram_fresh_ = false;
  clock_.ram_staged = staged;
  // The template's RAM is copied while QEMU starts: an incoming QEMU maps the RAM files but
  // reads and writes none of them before migrate-incoming (with x-ignore-shared the RAM is not
  // in the state file, and QEMU puts no ROM into RAM that a migration will fill).
  NVLAB_RETURN_IF_ERROR(LaunchQemu(BootCommandLine(boots_)));
  // A first boot's RAM may still be being reserved (Create); the copy goes into reserved files.
  // No room is the host's problem, not the template's: no fallback, no rebuild.
  if (Status reserved = ram_folder_.AwaitReservation(); !reserved.ok()) {
    KillQemu();
    *template_failed = false;
    return reserved;
  }
  const auto copy_began = std::chrono::steady_clock::now();
  for (size_t i = 0; i < ram_files_.size() && !staged; ++i) {
    uint64_t checksum = 0;
    Status copied = CopyMemoryImageIntoReserved(t.ram_files[i], ram_files_[i], &checksum);
    if (copied.ok() && checksum != t.ram_checksums[i]) {
      copied = Status::FailedPrecondition(t.ram_files[i].string() + " does not match its checksum");
    }
    if (!copied.ok()) {
      KillQemu();
      return copied;
    }
  }
  clock_.copy_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - copy_began).count();
  NVLAB_RETURN_IF_ERROR(AwaitQmp(deadline));
  Status s = qmp_.Execute("migrate-set-capabilities", kIgnoreShared, deadline);
  if (s.ok()) {
    s = qmp_.Execute("migrate-incoming", nlohmann::json{{"uri", "file:" + t.state.string()}}.dump(),
                     deadline);
  }
  // Loading a few hundred KB of state takes milliseconds.
  if (s.ok()) s = AwaitMigration(deadline, "load the saved state");
  if (!s.ok()) {
    KillQemu();
    return s;
  }
  clock_.restored = std::chrono::steady_clock::now();
  *template_failed = false;
  s = agent_.Connect(run_dir_ / "agent.sock", deadline);
  if (s.ok()) s = qmp_.Execute("cont", "", deadline);
  clock_.continued = std::chrono::steady_clock::now();
  if (!s.ok()) return BootFailure(s);
  warm_ = true;
  return Status::Ok();
}

Status Guest::ResumeGuest(Deadline deadline) {
  ResumeRequest request;
  if (config_.deterministic) {
    // The same every run, so that --deterministic stays deterministic; the guest keeps its own
    // virtual clock (-rtc clock=vm).
    for (size_t i = 0; i < request.seed.size(); ++i) {
      request.seed[i] = static_cast<uint8_t>(0x6e ^ (i * 37));
    }
  } else {
    size_t got = 0;
    while (got < request.seed.size()) {
      const ssize_t n = getrandom(request.seed.data() + got, request.seed.size() - got, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
      } else if (n < 0 && errno != EINTR) {
        return BootFailure(Status::IoErrorFromErrno("getrandom for the guest's seed", errno));
      }
    }
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    request.has_realtime = true;
    request.realtime_seconds = now.tv_sec;
    request.realtime_nanoseconds = static_cast<int32_t>(now.tv_nsec);
  }
  const Machine& m = config_.machine;
  request.ns = ToString(m.namespace_mode);
  request.fs = ToString(m.filesystem);
  request.nvdimms = static_cast<int>(m.nvdimms.size());
  request.share = !config_.share_dir.empty();
  // Read now, not when the file was made: a power cut's image or an exploration's crash state
  // may have been written since. The guest has not touched an NVDIMM yet.
  for (size_t i = 0; i < m.nvdimms.size() && i < nvdimm_files_.size(); ++i) {
    bool blank = false;
    if (m.nvdimms[i].label_size == 0) {
      Status read = NvdimmStartIsBlank(nvdimm_files_[i], &blank);
      if (!read.ok()) return BootFailure(read);
    }
    if (blank) request.blank.push_back(m.NvdimmBase(i));
  }
  Progress("NVDIMM setup");
  Status s = agent_.Resume(request, deadline);
  if (!s.ok()) return BootFailure(s);
  clock_.ready = std::chrono::steady_clock::now();
  return Status::Ok();
}

void Guest::LogBootPhases() const {
  if (config_.log == nullptr) return;
  using Seconds = std::chrono::duration<double>;
  auto between = [](auto from, auto to) { return Seconds(to - from).count(); };
  // Guest uptimes come from the (untrusted) hello: used only for this line, when they parse.
  auto guest_value = [this](const std::string& key) {
    const auto it = clock_.template_hello_values.find(key);
    if (it == clock_.template_hello_values.end()) return -1.0;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    return end != it->second.c_str() && *end == '\0' && v >= 0 && v < 1e6 ? v : -1.0;
  };
  char line[512];
  if (warm_) {
    (void)std::snprintf(
        line, sizeof(line),
        "boot %d phases (warm): RAM copy %.2f s%s, QEMU start %.2f s, state load %.2f s, "
        "NVDIMM setup %.2f s; ready %.2f s after the boot began",
        boots_, clock_.copy_seconds,
        clock_.ram_staged ? " (staged while the last boot ran)" : " (while QEMU started)",
        between(clock_.begin, clock_.qemu_started), between(clock_.qemu_started, clock_.restored),
        between(clock_.continued, clock_.ready), between(clock_.begin, clock_.ready));
  } else {
    const double uptime = guest_value("uptime");
    const double init = guest_value("timing.init");
    const double to_hello = between(clock_.continued, clock_.template_hello);
    // The guest's clock starts during the kernel's early setup: what comes before is counted
    // with the firmware.
    (void)std::snprintf(
        line, sizeof(line),
        "boot %d phases (cold): QEMU start %.2f s, firmware and early kernel %.2f s, kernel "
        "to init %.2f s, init to agent ready %.2f s, NVDIMM setup %.2f s; ready %.2f s "
        "after the boot began",
        boots_, between(clock_.begin, clock_.qemu_started),
        uptime >= 0 ? std::max(0.0, to_hello - uptime) : -1.0, init,
        uptime >= 0 && init >= 0 ? uptime - init : -1.0,
        between(clock_.template_hello, clock_.ready), between(clock_.begin, clock_.ready));
  }
  Log(line);
}

Status Guest::Boot() {
  if (running()) return Status::FailedPrecondition("the guest is already running");
  if (config_.dry_run) return Status::FailedPrecondition("a dry-run guest does not boot");
  const Deadline deadline = Deadline::In(config_.boot_timeout).Earlier(config_.run_deadline);
  BeginBoot();
  // The progress line's wait ends whichever way the boot does.
  struct ProgressDone {
    ProgressLine* line;
    ~ProgressDone() {
      if (line != nullptr) line->Done();
    }
  } progress_done{config_.progress};
  if (config_.warm_template) {
    bool template_failed = false;
    Status s = Restore(deadline, &template_failed);
    if (!s.ok() && !template_failed) return s;
    if (!s.ok()) {
      // The template is unusable (damaged, or a QEMU that cannot load it): this guest boots cold
      // from now on, and the next nvlab run checks and rebuilds the template.
      if (config_.progress != nullptr) config_.progress->Clear();
      if (config_.notices != nullptr) {
        *config_.notices << "nvlab: warm start from " << config_.warm_template->dir.string()
                         << " failed (" << s.message() << "); booting cold\n"
                         << std::flush;
      }
      std::error_code ec;
      fs::remove(config_.warm_template->dir / "manifest", ec);  // stale: rebuilt next time
      config_.warm_template.reset();
      BeginBoot();
    }
  }
  if (!warm_) NVLAB_RETURN_IF_ERROR(ColdBootToTemplateStage(deadline));
  NVLAB_RETURN_IF_ERROR(ResumeGuest(deadline));
  LogBootPhases();
  const auto pmem = agent_.hello().find("NVLAB_PMEM");
  Log("boot " + std::to_string(boots_) +
      ": guest ready, NVLAB_PMEM=" + (pmem == agent_.hello().end() ? std::string() : pmem->second));
  return Status::Ok();
}

Status Guest::BootToTemplateStage() {
  if (running()) return Status::FailedPrecondition("the guest is already running");
  if (config_.dry_run) return Status::FailedPrecondition("a dry-run guest does not boot");
  if (config_.warm_template) return Status::FailedPrecondition("a template is booted cold");
  BeginBoot();
  return ColdBootToTemplateStage(Deadline::In(config_.boot_timeout).Earlier(config_.run_deadline),
                                 /*saved=*/true);
}

Status Guest::SaveStateAndStop(const fs::path& file) {
  if (!running()) return Status::FailedPrecondition("the guest is not running");
  const Deadline deadline = Deadline::In(std::chrono::seconds(60)).Earlier(config_.run_deadline);
  Status s = qmp_.Execute("migrate-set-capabilities", kIgnoreShared, deadline);
  if (s.ok()) s = qmp_.Execute("stop", "", deadline);
  if (s.ok()) {
    s = qmp_.Execute("migrate", nlohmann::json{{"uri", "file:" + file.string()}}.dump(), deadline);
  }
  if (s.ok()) s = AwaitMigration(deadline, "save the guest");
  if (!s.ok()) {
    KillQemu();
    return LabFailure(s.WithContext("saving the template"));
  }
  KillQemu();
  return Status::Ok();
}

Status Guest::Run(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
                  RunResult* result) {
  return RunCommand(
      [&](AgentRunOutcome* outcome) { return agent_.Run(argv, sink, deadline, outcome); }, result);
}

Status Guest::RunRecorded(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
                          RunResult* result) {
  return RunCommand(
      [&](AgentRunOutcome* outcome) { return agent_.RunRecorded(argv, sink, deadline, outcome); },
      result);
}

Status Guest::RunShell(const PtyOpenRequest& request, PtyChannel* channel, Deadline deadline,
                       RunResult* result) {
  return RunCommand(
      [&](AgentRunOutcome* outcome) { return agent_.RunPty(request, channel, deadline, outcome); },
      result);
}

Status Guest::Pause(Deadline deadline) {
  if (!running()) return Status::FailedPrecondition("the guest is not running");
  return qmp_.Execute("stop", "", deadline).WithContext("QMP stop");
}

Status Guest::Continue(Deadline deadline) {
  if (!running()) return Status::FailedPrecondition("the guest is not running");
  return qmp_.Execute("cont", "", deadline).WithContext("QMP cont");
}

Status Guest::DetachNvdimms(Deadline deadline, std::string* refusal) {
  if (!running() || !agent_.connected()) {
    return Status::FailedPrecondition("the guest is not running");
  }
  return agent_.DetachNvdimms(deadline, refusal);
}

Status Guest::AttachNvdimms(Deadline deadline, std::string* refusal) {
  if (!running() || !agent_.connected()) {
    return Status::FailedPrecondition("the guest is not running");
  }
  return agent_.AttachNvdimms(deadline, refusal);
}

Status Guest::RunCommand(const std::function<Status(AgentRunOutcome*)>& on_agent,
                         RunResult* result) {
  *result = RunResult();
  if (!running() || !agent_.connected()) {
    return Status::FailedPrecondition("the guest is not running");
  }
  AgentRunOutcome outcome;
  hung_ = false;
  watch_silence_ = true;
  Status s = on_agent(&outcome);
  watch_silence_ = false;
  if (hung_) {
    KillQemu();
    return LabFailure(
        Status::IoError("the guest hung: no console output and no agent traffic for " +
                        std::to_string(config_.hang_timeout.count() / 1000) +
                        " s while the command ran (--hang-timeout); QEMU was killed"));
  }
  if (s.code() == Status::Code::kInvalidArgument) return s;
  if (!s.ok()) {
    if (agent_.stream_failed()) KillQemu();
    return LabFailure(s);
  }
  switch (outcome.end) {
    case AgentRunEnd::kExited:
      result->status = outcome.status;
      return Status::Ok();
    case AgentRunEnd::kMachineEnded:
      qmp_.Close();
      if (console_) console_->Stop();  // QEMU has ended: the console is read to its end
      if (config_.model.enabled && fs::exists(report_path_) &&
          !(console_ && console_->panicked())) {
        // The plugin ends QEMU with status 0 only after a cut whose files and report are on
        // disk; any other end is a failed cut, whatever the report says.
        if (!qemu_.Succeeded()) {
          return LabFailure(Status::IoError(
              "power cut failed: QEMU " + qemu_.DescribeExit() +
              " after the persistence model began the cut (QEMU's output below says why)"));
        }
        result->cut_by_guest = true;
        cut_pending_report_ = true;
        agent_.Close();
        return Status::Ok();
      }
      return LabFailure(Status::GuestDied("QEMU ended while the command ran"));
    case AgentRunEnd::kDeadline:
      KillQemu();
      return LabFailure(Status::Timeout("the command was still running at the deadline"));
    case AgentRunEnd::kInterrupted:
      KillQemu();
      return Status::Cancelled("interrupted by signal " + std::to_string(outcome.signal) +
                               " while the command ran; the guest was killed");
  }
  return Status::Ok();
}

Status Guest::ReadCutReport(CutReport* report) {
  *report = CutReport();
  if (!config_.model.enabled) return Status::Ok();
  NVLAB_RETURN_IF_ERROR(ReadCutReportFile(report_path_, report));
  const Status synced = CheckCutSynced(*report);
  if (!synced.ok()) {
    *report = CutReport();
    return LabFailure(synced);
  }
  return Status::Ok();
}

Status Guest::PowerCut(CutReport* report) {
  *report = CutReport();
  if (cut_pending_report_) {
    cut_pending_report_ = false;
    return ReadCutReport(report);
  }
  if (!running()) return Status::FailedPrecondition("the guest is not running");
  const Deadline deadline = Deadline::In(std::chrono::seconds(60)).Earlier(config_.run_deadline);
  Status s = qmp_.Execute("stop", "", deadline);
  if (!s.ok()) {
    KillQemu();
    return LabFailure(s.WithContext("power cut: QMP stop"));
  }
  if (config_.model.enabled) {
    s = RequestModelCut(run_dir_ / "model.sock", deadline);
    if (!s.ok()) {
      KillQemu();
      return LabFailure(s.WithContext("power cut"));
    }
  }
  KillQemu();
  Log("power cut: QEMU stopped and killed");
  return ReadCutReport(report);
}

Status Guest::PowerOff(Deadline deadline) {
  if (!running()) return Status::Ok();
  agent_.SendPowerOff();
  while (!ReapQemu()) {
    if (deadline.expired()) {
      KillQemu();
      return Status::Timeout(
          "the guest did not power off in time (the power-off wait); QEMU was killed");
    }
    if (const int sig = InterruptionSignal()) {
      KillQemu();
      return Status::Cancelled("interrupted by signal " + std::to_string(sig) +
                               " while the guest powered off; QEMU was killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  qmp_.Close();
  agent_.Close();
  return Status::Ok();
}

}  // namespace nvlab
