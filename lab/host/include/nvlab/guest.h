// File: nvlab/guest.h
//
// A Guest is one lab machine under QEMU: its private run folder (QMP and agent sockets, console
// log, RAM files, the NVDIMM files nvlab made), the QEMU process of the current boot, and the
// connection to nvlab-agent inside it. Its life cycle:
//
//   Guest::Create -> Boot -> Run ... -> PowerCut -> Boot -> Run ... -> PowerOff (or destruction)
//
// Every boot reaches the template stage first (the guest's init stops before the NVDIMMs) and is
// then resumed: the host's resume request reseeds the guest's RNG, sets its clock and has the
// NVDIMMs set up (nvlab/resume_request.h). A cold boot gets there by booting the kernel; a warm
// start (GuestConfig::warm_template) by restoring a guest saved there (nvlab/guest_template.h),
// and falls back to a cold boot, saying why on GuestConfig::notices, when the template cannot
// be restored. Templates themselves are made by BootToTemplateStage + SaveStateAndStop.
//
// PowerCut is a hard stop, not a shutdown: QMP "stop" freezes the vCPUs, the persistence model
// (when loaded) decides what the NVDIMMs keep, and QEMU is killed; no guest shutdown path runs.
// The next Boot starts a new QEMU on the NVDIMM content that survived.
//
// NVDIMM files: a file the caller names is created (sized by the machine) when missing, reused
// when present, and never deleted; it is locked (flock, exclusive) from Create until the Guest
// is destroyed, so a second nvlab on it is refused with the file untouched, and naming one file
// twice is refused too. Otherwise nvlab makes a zeroed one in the run folder. The run
// folder (nvlab/run_folder.h) is removed when the Guest is destroyed, QEMU killed first if it
// still runs (unless GuestConfig::keep_run_folder); a killed nvlab's run folder is swept by a
// later one.
//
// Thread-safety: one thread at a time per Guest; distinct Guests are independent (several can run
// at once from the same image).

#ifndef NVLAB_GUEST_H_
#define NVLAB_GUEST_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/agent_frame.h"
#include "nvlab/agent_session.h"
#include "nvlab/console_recorder.h"
#include "nvlab/cut_report.h"
#include "nvlab/deadline.h"
#include "nvlab/guest_image.h"
#include "nvlab/guest_ram_folder.h"
#include "nvlab/guest_template.h"
#include "nvlab/machine.h"
#include "nvlab/model_plugin_argument.h"
#include "nvlab/nvdimm_file.h"
#include "nvlab/progress_line.h"
#include "nvlab/qemu_command_line.h"
#include "nvlab/qmp_client.h"
#include "nvlab/status.h"
#include "nvlab/subprocess.h"

namespace nvlab {

struct GuestConfig {
  Machine machine;
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  // The kernel's task layout (GuestImage::kernel_task_layout): with it, the model's traced
  // stores name the guest process that made them.
  std::optional<KernelTaskLayout> kernel_task_layout;
  // nvdimm_images[i], when present and non-empty, is the caller's file for NVDIMM i.
  std::vector<std::filesystem::path> nvdimm_images;
  // image_hold: the image's shared lock (GuestImage::hold), kept while the guest lives so that
  // no prune removes the kernel and initramfs it boots from.
  std::shared_ptr<FileLock> image_hold;
  std::filesystem::path share_dir;
  Accel accel = Accel::kTcg;
  std::string qemu = "qemu-system-x86_64";
  ModelConfig model;
  bool deterministic = false;
  std::chrono::milliseconds boot_timeout{60000};
  // run_deadline: the caller's limit on everything (nvlab's --timeout): each boot's budget, a
  // power cut and a template save end by it too. Default: none.
  Deadline run_deadline = Deadline::Never();
  // hang_timeout: while a command runs, the guest is hung when neither its console nor its agent
  // (which sends a keep-alive each silent second) has sent a byte for this long: Run then kills
  // QEMU and fails naming the hang. 0: never.
  std::chrono::milliseconds hang_timeout{0};
  // console_log_cap: the console log keeps the last this many bytes (nvlab/console_recorder.h).
  uint64_t console_log_cap = kConsoleLogCap;
  std::ostream* log = nullptr;  // -v: progress lines, and each boot's phases with their times
  // warm_template: restore every boot from this template instead of booting the kernel; unset:
  // cold boots. Its files are only read.
  std::optional<GuestTemplate> warm_template;
  std::ostream* notices =
      nullptr;  // one-line notices that are not errors (a warm start's fallback)
  // dry_run: Create makes the run folder only (no NVDIMM or RAM file, and none the caller
  // named: an existing --nvdimm-image is checked, a missing one left missing), so that
  // BootCommandLine can show what Boot would start; Boot refuses.
  bool dry_run = false;
  // ram_base: the tmpfs that holds the guest's RAM files when it has room (nvlab/
  // guest_ram_folder.h); empty: they stay in the run folder.
  std::filesystem::path ram_base = DefaultGuestRamBase();
  // keep_run_folder: the run folder stays when the Guest is destroyed, marked kept
  // (nvlab/run_folder.h), and one line on `notices` says where (nvlab --keep). The RAM files
  // go as usual.
  bool keep_run_folder = false;
  // console_fd, when >= 0, gets a copy of every boot's console as it arrives (nvlab --console:
  // stderr); the caller keeps it open.
  int console_fd = -1;
  // gdb_port: each boot's QEMU gets a gdbstub on 127.0.0.1:gdb_port and the boot waits, after
  // printing gdb_hints on `notices`, until gdb continues the guest (nvlab --gdb). Cold boots
  // only (Create refuses a warm template with it). 0: none.
  uint16_t gdb_port = 0;
  std::string gdb_hints;
  // progress: the terminal's progress line (nvlab/progress_line.h): each Boot names its phase
  // (QEMU start, the kernel and agent, the restore, NVDIMM setup) and ends the wait when it
  // returns; nullptr: none.
  ProgressLine* progress = nullptr;
};

// RunResult is how a guest command ended.
struct RunResult {
  CommandStatus status;
  // cut_by_guest: the command cut the power itself (NvLabPowerCut) or the model's
  // cut-after-fences trigger fired; the guest is down and `status` is meaningless.
  bool cut_by_guest = false;
};

class Guest {
 public:
  // Create validates the configuration, makes the run folder and the NVDIMM files (not with
  // GuestConfig::dry_run). It does not start QEMU.
  static Status Create(GuestConfig config, std::unique_ptr<Guest>* out);
  ~Guest();
  Guest(const Guest&) = delete;
  Guest& operator=(const Guest&) = delete;

  // Boot starts QEMU and waits until nvlab-agent in the guest says hello. On failure the error
  // says where boot stopped and carries the console tail.
  Status Boot();

  // Run runs argv in the guest (argv[0] looked up in the guest's PATH; a shell command is
  // {"sh", "-c", text}) with NVLAB_PMEM set, streaming its output to sink. Timeout when the
  // deadline passes (QEMU is then killed); GuestDied when QEMU ends first, unless the model
  // reports a cut the guest triggered (then result->cut_by_guest); a message that starts "the
  // guest kernel panicked" when the console showed the kernel's panic line; IoError "the guest
  // hung ..." when it fell silent for GuestConfig::hang_timeout (QEMU is then killed). Every
  // failure carries the console tail.
  Status Run(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
             RunResult* result);

  // RunRecorded is Run for crash-state exploration's workload: the agent runs argv between the
  // recording marks, so that the model's record= file holds its NVDIMM writes only.
  Status RunRecorded(const std::vector<std::string>& argv, OutputSink* sink, Deadline deadline,
                     RunResult* result);
  // RunShell runs an interactive shell on a pseudo-terminal in the guest (nvlab shell;
  // AgentSession::RunPty relays it through `channel`) with NVLAB_PMEM set, until it ends.
  // Results and errors as Run: result->cut_by_guest when the user cut the power inside it
  // (nvlab-powercut); the hang timeout counts as for a command (the agent's keep-alives go on
  // while the shell waits for the user).
  Status RunShell(const PtyOpenRequest& request, PtyChannel* channel, Deadline deadline,
                  RunResult* result);
  // Pause and Continue stop and restart the vCPUs (QMP stop, cont): the NVDIMM files may be
  // rewritten in between (a crash state's image).
  Status Pause(Deadline deadline);
  Status Continue(Deadline deadline);
  // DetachNvdimms and AttachNvdimms have the agent unmount the NVDIMMs' file systems and drop
  // their block caches, or mount them again (nvlab/agent_session.h); *refusal holds the agent's
  // reason when it could not (a crash state whose file system does not mount).
  Status DetachNvdimms(Deadline deadline, std::string* refusal);
  Status AttachNvdimms(Deadline deadline, std::string* refusal);
  // model_control_socket is where the model (when loaded) listens: nvlab/model_control.h.
  std::filesystem::path model_control_socket() const { return run_dir_ / "model.sock"; }
  // PowerCut stops the vCPUs, lets the model settle the NVDIMMs, and kills QEMU. After a cut the
  // guest triggered (RunResult::cut_by_guest) it only collects the report. With the model loaded,
  // *report is the model's report (nvlab/cut_report.h); a missing or malformed one is an error.
  Status PowerCut(CutReport* report);

  // StageNextRestore asks for the boot after the coming one (a power-cycle's second) to find its
  // copy of the template's RAM made: once the coming Boot has made its own copy, a background
  // thread makes the next one beside the RAM files while this boot runs, and the next Boot only
  // renames it into place. Without a warm template it does nothing.
  void StageNextRestore() { stage_next_restore_ = true; }

  // BootToTemplateStage boots cold up to the template stage (the agent's first hello) and leaves
  // the guest there, running: what a template is saved from (nvlab/guest_template_cache.h).
  Status BootToTemplateStage();

  // SaveStateAndStop pauses the guest, saves its device and vCPU state to `file` (a QEMU
  // migration with x-ignore-shared: the memory stays in the RAM files), and ends QEMU. The RAM
  // files (ram_files()) then hold the rest of the saved guest.
  Status SaveStateAndStop(const std::filesystem::path& file);

  // PowerOff asks the agent to sync and power off, and waits for QEMU to end (killing it after
  // the deadline).
  Status PowerOff(Deadline deadline);

  // BootCommandLine is the QEMU argv of boot number `boot` (1 for the first Boot, 2 for the boot
  // after a power cut, ...): what Boot starts then, and what --dry-run prints.
  // `saved`: the boot builds a template, so its agent preloads the NVDIMM drivers
  // (QemuLaunch::preload_drivers).
  std::vector<std::string> BootCommandLine(int boot, bool saved = false) const;

  bool running() const { return qemu_.running(); }
  // hello holds what the agent reported at boot: NVLAB_PMEM, kernel, ...
  const std::map<std::string, std::string>& hello() const { return agent_.hello(); }
  // ConsoleTail returns the last `lines` lines of the current boot's console, with control
  // characters and escape sequences made harmless (the guest's output is untrusted).
  std::string ConsoleTail(int lines = 20) const;
  const std::filesystem::path& run_dir() const { return run_dir_; }
  const std::vector<std::filesystem::path>& nvdimm_files() const { return nvdimm_files_; }
  const std::vector<std::filesystem::path>& ram_files() const { return ram_files_; }
  const std::filesystem::path& console_log() const { return console_log_; }
  // warm: whether the last Boot restored a template (false after a cold boot or a fallback).
  bool warm() const { return warm_; }
  int boots() const { return boots_; }

 private:
  explicit Guest(GuestConfig config);
  Status Spawn(const std::vector<std::string>& argv);
  // RunCommand is Run, RunRecorded and RunShell: `on_agent` makes the agent run it.
  Status RunCommand(const std::function<Status(AgentRunOutcome*)>& on_agent, RunResult* result);
  // BeginBoot numbers the next boot and names its files.
  void BeginBoot();
  // StartQemu spawns argv and connects QMP: LaunchQemu, then AwaitQmp (what comes between them
  // runs while QEMU starts).
  Status StartQemu(const std::vector<std::string>& argv, Deadline deadline);
  Status LaunchQemu(const std::vector<std::string>& argv);
  Status AwaitQmp(Deadline deadline);
  // ColdBootToTemplateStage starts QEMU on the kernel and waits for the template-stage hello.
  // `saved`: the guest is saved there as a template (BootCommandLine).
  Status ColdBootToTemplateStage(Deadline deadline, bool saved = false);
  // Restore starts QEMU on the warm template; *template_failed says whether a failure was the
  // template's (then a cold boot may follow).
  Status Restore(Deadline deadline, bool* template_failed);
  // AwaitMigration polls query-migrate until QEMU's migration (`what`: for messages) completes.
  Status AwaitMigration(Deadline deadline, const char* what);
  // AwaitGdbContinue waits until gdb, attached to the gdbstub (GuestConfig::gdb_port), has
  // continued the guest.
  Status AwaitGdbContinue(Deadline deadline);
  // ResumeGuest sends the resume request and waits for the guest to be ready.
  Status ResumeGuest(Deadline deadline);
  // BootFailure kills QEMU and wraps a boot error (timeouts named after the boot budget).
  Status BootFailure(const Status& status);
  // ReapQemu returns true once QEMU has ended (and records how); the console is then read to
  // its end.
  bool ReapQemu();
  // MachineGone is the agent's MachineEnded: QEMU has ended, or (while a command runs with a
  // hang timeout) the guest fell silent, which sets hung_.
  bool MachineGone();
  void KillQemu();
  Status ReadCutReport(CutReport* report);
  Status LabFailure(const Status& status) const;
  // PluginArgument is the -plugin value of boot number `boot` ("" without the model).
  std::string PluginArgument(int boot) const;
  void Log(const std::string& line) const;
  // Progress names the boot's current phase on the progress line, when there is one.
  void Progress(const char* phase) const;

  GuestConfig config_;
  std::filesystem::path run_dir_;
  std::vector<std::filesystem::path> nvdimm_files_;
  // The NVDIMM files the caller named, locked for the guest's lifetime (nvlab/nvdimm_file.h).
  NvdimmFileLocks nvdimm_locks_;
  std::vector<std::filesystem::path> ram_files_;
  // ram_folder_ holds ram_files_ (a tmpfs folder it removes, or the run folder); declared
  // before nothing that outlives it: the destructor kills QEMU before members go.
  GuestRamFolder ram_folder_;
  // ram_fresh_: ram_files_ are as reserved (all zeros), no boot has used them yet.
  bool ram_fresh_ = false;
  std::filesystem::path firmware_;           // -bios (nvlab/qemu_firmware.h); empty: QEMU's default
  GuestTimerCalibration timer_calibration_;  // lpj= ... of cold boots (TCG)
  bool timer_calibrated_ = false;
  // The measurement a guest that boots cold starts when it is created (it runs while the RAM
  // is reserved and QEMU's command line is built); taken by the first cold boot.
  std::future<GuestTimerCalibration> timer_calibration_pending_;
  std::filesystem::path console_log_;
  std::filesystem::path qemu_log_;
  std::filesystem::path report_path_;
  Subprocess qemu_;
  // agent_ is the connection to nvlab-agent of the current boot; it asks ReapQemu whether the
  // machine has ended.
  AgentSession agent_{[this] { return MachineGone(); }};
  // console_ records the current boot's console (started before QEMU, stopped once it ended).
  std::unique_ptr<ConsoleRecorder> console_;
  bool watch_silence_ = false;  // a command runs: MachineGone checks for a hang
  bool hung_ = false;
  QmpClient qmp_;
  int boots_ = 0;
  bool stage_next_restore_ = false;
  // The next boot's RAM copy being made (StageNextRestore): its files and, once the future is
  // ready, their checksums, written by the copying thread before it completes the future.
  std::vector<std::filesystem::path> staged_ram_files_;
  std::vector<uint64_t> staged_ram_checksums_;
  std::future<Status> staged_ram_;
  // The deletion of the RAM files a staged copy replaced (their pages are freed off the boot's
  // path).
  std::future<void> old_ram_removal_;
  bool cut_pending_report_ = false;
  bool warm_ = false;
  // The host times of the current boot's steps and the guest's own hello, for the -v phase line.
  struct BootClock {
    std::chrono::steady_clock::time_point begin, qemu_started, restored, continued, template_hello,
        ready;
    double copy_seconds = 0;
    bool ram_staged = false;  // the RAM copy was made while the last boot ran
    std::map<std::string, std::string> template_hello_values;
  } clock_;
  void LogBootPhases() const;
};

// ShellCommand is argv for running `text` under the guest's `sh -c`.
std::vector<std::string> ShellCommand(std::string_view text);

}  // namespace nvlab

#endif  // NVLAB_GUEST_H_
