// exploration.cc -- ExploreCrashStates: record, build the crash states, check them in resident
// guests, describe the failures.

#include "nvlab/exploration/exploration.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <utility>

#include "nvlab/exploration/crash_state_checker.h"
#include "nvlab/exploration/read_only_mapping.h"
#include "nvlab/explore/crash_points.h"
#include "nvlab/explore/crash_replay.h"
#include "nvlab/explore/recording_file.h"
#include "nvlab/file_contents.h"
#include "nvlab/interruption.h"
#include "nvlab/untrusted_text.h"
#include "nvlab/user_symbolizer.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using explore::CrashPointResult;
using explore::CrashStateSpace;
using explore::RecordedEvent;
using explore::Recording;

constexpr int kMaxJobs = 16;
// workload.command beside a kept recording holds the workload's command line: a few KiB at most.
constexpr uintmax_t kMaxWorkloadFileBytes = uintmax_t{64} * 1024;

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// WorkloadSink forwards the workload's output to nvlab's own stdout and stderr (the user wants to
// see why a workload failed), after escaping: it is the guest's.
class WorkloadSink : public OutputSink {
 public:
  explicit WorkloadSink(std::ostream* log) : log_(log) {}
  void Stdout(std::string_view bytes) override { Write(bytes); }
  void Stderr(std::string_view bytes) override { Write(bytes); }

 private:
  void Write(std::string_view bytes) {
    if (log_ != nullptr) *log_ << EscapeUntrustedLines(bytes);
  }
  std::ostream* log_;
};

// ExplorationFolder is the exploration's temporary folder, removed at the end.
class ExplorationFolder {
 public:
  Status Make() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/nvlab-explore-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      return Status::IoErrorFromErrno("cannot make a folder for the exploration", errno);
    }
    path_ = templ;
    remove_ = true;
    return Status::Ok();
  }
  ~ExplorationFolder() {
    std::error_code ec;
    if (remove_) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool remove_ = false;
};

// RecordWorkload boots a guest with the model recording, runs the workload between the marks and
// powers the guest off.
Status RecordWorkload(const ExplorationConfig& config, const fs::path& recording_file,
                      int* workload_exit) {
  GuestConfig guest = config.guest;
  guest.model.enabled = true;
  guest.model.record = recording_file;
  guest.model.watch_loads = false;
  std::unique_ptr<Guest> g;
  NVLAB_RETURN_IF_ERROR(Guest::Create(std::move(guest), &g));
  NVLAB_RETURN_IF_ERROR(g->Boot().WithContext("the recording guest"));
  WorkloadSink sink(config.log);
  RunResult run;
  NVLAB_RETURN_IF_ERROR(g->RunRecorded(ShellCommand(config.workload), &sink, config.deadline, &run)
                            .WithContext("the workload"));
  if (run.cut_by_guest) {
    return Status::FailedPrecondition(
        "the workload cut the power: exploration cuts it at every crash point itself");
  }
  *workload_exit = run.status.signaled ? 128 + run.status.value : run.status.value;
  if (run.status.signaled || run.status.value != 0) {
    return Status::FailedPrecondition(
        "the workload failed (" + std::string(run.status.signaled ? "signal " : "exit ") +
        std::to_string(run.status.value) + "): exploration needs a workload that succeeds");
  }
  return g->PowerOff(config.deadline).WithContext("powering the recording guest off");
}

// MissedWrites names the writes of line `u` that the chosen candidate did not land.
std::vector<MissedWrite> MissedWrites(const Recording& recording,
                                      const explore::UndeterminedLine& line, uint32_t choice) {
  std::vector<MissedWrite> out;
  std::map<uint32_t, const explore::RecordedProcess*> processes;
  for (const auto& p : recording.processes) processes[p.id] = &p;
  for (size_t c = choice + 1; c < line.sources.size(); ++c) {
    const uint64_t e = line.sources[c];
    if (e == explore::kNoEvent || e >= recording.events.size()) continue;
    const RecordedEvent& ev = recording.events[e];
    MissedWrite w;
    w.event = e;
    w.kind = ev.kind;
    w.gpa = ev.kind == explore::EventKind::kStore ? ev.gpa : line.gpa;
    w.pc = ev.pc;
    if (auto it = processes.find(ev.process); it != processes.end()) {
      w.pid = it->second->pid;
      w.process = it->second->name;
    }
    out.push_back(std::move(w));
    break;  // The first write that did not land is the one that broke the state.
  }
  return out;
}

// Timeline lists the events before the crash point that touched the failure's lines (stores,
// flushes) and the fences and WBINVDs that ordered them, the last kMaxTimelineEvents of them.
void BuildTimeline(const Recording& recording, ExplorationFailure* failure) {
  std::set<uint64_t> lines;
  std::set<uint64_t> missed;
  for (const FailedLine& l : failure->lines) {
    lines.insert(l.gpa);
    for (const MissedWrite& w : l.missed) missed.insert(w.event);
  }
  std::map<uint32_t, std::string> names;
  for (const auto& p : recording.processes) names[p.id] = p.name;
  std::map<uint32_t, uint32_t> cpu_numbers;  // model id -> order of first appearance
  std::set<uint32_t> cpus_with_work;  // a shown store or flush since the CPU's last shown fence
  std::deque<TimelineEvent> shown;
  const uint64_t end = std::min<uint64_t>(failure->crash_point, recording.events.size());
  for (uint64_t e = 0; e < end; ++e) {
    const RecordedEvent& ev = recording.events[e];
    cpu_numbers.try_emplace(ev.cpu, static_cast<uint32_t>(cpu_numbers.size()));
    bool show = false;
    if (ev.kind == explore::EventKind::kStore) {
      const uint64_t first = ev.gpa & ~(explore::kLineBytes - 1);
      const uint64_t last = (ev.gpa + ev.size - 1) & ~(explore::kLineBytes - 1);
      show = lines.contains(first) || lines.contains(last);
    } else if (ev.kind == explore::EventKind::kFlush) {
      show = lines.contains(ev.gpa & ~(explore::kLineBytes - 1));
    } else {
      show = cpus_with_work.contains(ev.cpu) || ev.kind == explore::EventKind::kWbinvd;
      if (show) cpus_with_work.erase(ev.cpu);
    }
    if (!show) continue;
    if (ev.kind == explore::EventKind::kStore || ev.kind == explore::EventKind::kFlush) {
      cpus_with_work.insert(ev.cpu);
    }
    TimelineEvent t;
    t.event = e;
    t.kind = ev.kind;
    t.cpu = cpu_numbers[ev.cpu];
    t.gpa = ev.gpa;
    t.size = ev.size;
    t.non_temporal = ev.non_temporal;
    t.pc = ev.pc;
    if (auto it = names.find(ev.process); it != names.end()) t.process = it->second;
    t.missed = missed.contains(e);
    shown.push_back(std::move(t));
    if (shown.size() > kMaxTimelineEvents) {
      shown.pop_front();
      ++failure->timeline_skipped;
    }
  }
  failure->timeline.assign(shown.begin(), shown.end());
}

// Job is one resident check guest and the crash points it explores.
// CheckGuests runs batches of images on the check guests, one image per guest, in parallel.
// Each guest has a thread of its own for as long as it lives: QEMU is started with
// PR_SET_PDEATHSIG (nvlab/subprocess.h), which kills it when the *thread* that started it ends,
// so a guest is booted, used and killed from one thread.
// outcomes() keeps what each distinct image's check said, by the explorer's image index (the
// explorer inserts a batch's images in the batch's order, right after the call).
class CheckGuests {
 public:
  ~CheckGuests() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_.notify_all();
    for (Worker& w : workers_) {
      if (w.thread.joinable()) w.thread.join();
    }
  }

  // Start boots `jobs` check guests at once.
  Status Start(int jobs, const ExplorationConfig& config, const fs::path& folder,
               const Recording& recording, const std::vector<std::span<const uint8_t>>& initial) {
    workers_ = std::vector<Worker>(static_cast<size_t>(jobs));
    for (size_t j = 0; j < workers_.size(); ++j) {
      workers_[j].thread = std::thread([this, j, &config, folder, &recording, &initial] {
        std::unique_ptr<CrashStateChecker> checker;
        Status started = CrashStateChecker::Start(
            config.guest, folder / ("checker" + std::to_string(j)), recording.nvdimms, initial,
            config.check, config.check_timeout, /*watch_loads=*/config.prune, &checker);
        Serve(j, std::move(started), checker.get());
      });
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return started_ == workers_.size(); });
    for (const Worker& w : workers_) NVLAB_RETURN_IF_ERROR(w.status);
    return Status::Ok();
  }

  Status Check(std::span<const explore::CrashImage* const> images, Deadline deadline,
               std::vector<explore::CheckResult>* results) {
    if (images.size() > workers_.size()) {
      return Status::FailedPrecondition("a batch larger than the check guests");
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t k = 0; k < images.size(); ++k) {
        workers_[k].image = images[k];
        workers_[k].deadline = deadline;
      }
      busy_ = images.size();
    }
    work_.notify_all();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [&] { return busy_ == 0; });
    }
    for (size_t k = 0; k < images.size(); ++k) NVLAB_RETURN_IF_ERROR(workers_[k].status);
    results->assign(images.size(), explore::CheckResult());
    for (size_t k = 0; k < images.size(); ++k) {
      CheckOutcome& outcome = workers_[k].outcome;
      (*results)[k].passed = outcome.passed;
      (*results)[k].lines_read = std::move(outcome.lines_read);
      outcome.lines_read = {};
      if (outcome.passed) outcome.output.clear();  // Only failures' outputs are reported.
      outcomes_.push_back(std::move(outcome));
    }
    checks_ += images.size();
    return Status::Ok();
  }

  // WriteImageFiles is CrashStateChecker::WriteImageFiles (any guest's: they share the layout).
  Status WriteImageFiles(const explore::CrashImage& image, const fs::path& dir,
                         std::vector<fs::path>* files) const {
    return workers_.front().checker->WriteImageFiles(image, dir, files);
  }
  const std::vector<CheckOutcome>& outcomes() const { return outcomes_; }
  uint64_t checks() const { return checks_.load(); }

 private:
  struct Worker {
    std::thread thread;
    CrashStateChecker* checker = nullptr;        // owned by the worker's thread
    Status status = Status::Ok();                // its start's, then its last check's
    const explore::CrashImage* image = nullptr;  // the image to check, while busy
    Deadline deadline = Deadline::Never();
    CheckOutcome outcome;
  };

  // Serve is worker j's thread after its guest's start: it checks the images it is given until
  // the guests are stopped, then kills its guest.
  void Serve(size_t j, Status started, CrashStateChecker* checker) {
    Worker& me = workers_[j];
    {
      std::lock_guard<std::mutex> lock(mutex_);
      me.status = std::move(started);
      me.checker = checker;
      ++started_;
    }
    done_.notify_all();
    for (;;) {
      const explore::CrashImage* image = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_.wait(lock, [&] { return stopping_ || me.image != nullptr; });
        if (stopping_) return;
        image = me.image;
      }
      me.status = checker->Check(*image, me.deadline, &me.outcome);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        me.image = nullptr;
        --busy_;
      }
      done_.notify_all();
    }
  }

  std::vector<Worker> workers_;
  std::mutex mutex_;
  std::condition_variable work_;  // an image for some worker, or stopping_
  std::condition_variable done_;  // a worker started, or finished its image
  size_t started_ = 0;
  size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<CheckOutcome> outcomes_;
  std::atomic<uint64_t> checks_{0};
};

// FenceProcess returns the process id of the fence (or WBINVD) at event `e`, or 0. The recording
// names processes on stores only. A fence is recorded because its CPU flushed since its last
// recorded fence; a context switch in between would have run the kernel's own fences first. So
// a store on the same CPU since that fence is the fencing process's; with none, it is unknown.
uint32_t FenceProcess(const Recording& recording, uint64_t e) {
  const RecordedEvent& fence = recording.events[e];
  if (fence.pc >= (1ull << 47)) return 0;  // not user code: no process to name
  for (uint64_t i = e; i-- > 0;) {
    const RecordedEvent& ev = recording.events[i];
    if (ev.cpu != fence.cpu) continue;
    if (ev.kind == explore::EventKind::kStore) return ev.process;
    if (ev.kind != explore::EventKind::kFlush) return 0;
  }
  return 0;
}

// NameFunctions adds the symbol (and the crash point's process) to every PC of the failures:
// the host copies of the guest's programs name user-space functions (user_symbolizer.h).
void NameFunctions(const Recording& recording, const std::vector<fs::path>& dirs, std::ostream* log,
                   std::vector<ExplorationFailure>* failures) {
  if (failures->empty()) return;
  UserSymbolizer symbolizer(dirs, log);
  std::map<uint32_t, std::string> names;
  for (const auto& p : recording.processes) names[p.id] = p.name;
  auto name = [&](const std::string& process, uint64_t pc) {
    return process.empty() ? std::string() : symbolizer.Symbolize(process, pc).value_or("");
  };
  for (ExplorationFailure& f : *failures) {
    if (!f.at_end && f.crash_point < recording.events.size()) {
      const auto it = names.find(FenceProcess(recording, f.crash_point));
      if (it != names.end()) f.fence_process = it->second;
      f.fence_symbol = name(f.fence_process, f.fence_pc);
    }
    for (FailedLine& l : f.lines) {
      for (MissedWrite& w : l.missed) w.symbol = name(w.process, w.pc);
    }
    for (TimelineEvent& t : f.timeline) t.symbol = name(t.process, t.pc);
  }
}

}  // namespace

Status ExploreCrashStates(const ExplorationConfig& config, ExplorationResult* result) {
  *result = ExplorationResult();
  result->check = config.check;
  const auto start = std::chrono::steady_clock::now();
  if (config.jobs < 1 || config.jobs > kMaxJobs) {
    return Status::InvalidArgument("--jobs must be 1-" + std::to_string(kMaxJobs));
  }
  if (config.workload.empty() || config.check.empty()) {
    return Status::InvalidArgument("exploration needs a workload and a check");
  }
  explore::CrashPointSpec spec;
  NVLAB_RETURN_IF_ERROR(explore::ParseCrashPointSpec(config.crash_points, &spec));
  ExplorationFolder folder;  // the check guests' NVDIMM files, and the recording by default
  NVLAB_RETURN_IF_ERROR(folder.Make());
  const fs::path recording_dir =
      config.recording_dir.empty() ? folder.path() : config.recording_dir;

  // 1. Record once, or take the recording recording_dir holds.
  const fs::path recording_file = recording_dir / "workload.rec";
  const fs::path workload_file = recording_dir / "workload.command";
  std::error_code ec;
  if (!config.recording_dir.empty() && fs::exists(recording_file, ec)) {
    std::string recorded_workload;
    if (fs::file_size(workload_file, ec) > kMaxWorkloadFileBytes || ec) {
      return Status::InvalidArgument("the recording in " + config.recording_dir.string() +
                                     " has no readable workload.command");
    }
    NVLAB_RETURN_IF_ERROR(ReadFileContents(workload_file, &recorded_workload)
                              .WithContext("the recording's workload"));
    if (recorded_workload != config.workload) {
      return Status::FailedPrecondition(
          "the recording in " + config.recording_dir.string() +
          " is of another workload: " + EscapeUntrusted(recorded_workload));
    }
    result->reused_recording = true;
    if (config.log != nullptr) {
      *config.log << "nvlab: exploring the recording in " << config.recording_dir.string() << "\n";
    }
  } else {
    fs::create_directories(recording_dir, ec);
    if (ec) return Status::IoError("cannot create " + recording_dir.string() + ": " + ec.message());
    if (config.log != nullptr) *config.log << "nvlab: recording the workload\n";
    NVLAB_RETURN_IF_ERROR(RecordWorkload(config, recording_file, &result->workload_exit));
    NVLAB_RETURN_IF_ERROR(WriteFileAtomically(workload_file, config.workload));
  }
  Recording recording;
  NVLAB_RETURN_IF_ERROR(
      explore::ReadRecordingFile(recording_file, &recording).WithContext("the recording"));
  result->recorded_events = recording.events.size();
  result->nvdimms = recording.nvdimms;
  result->record_seconds = SecondsSince(start);
  std::vector<ReadOnlyMapping> mappings(recording.nvdimms.size());
  std::vector<std::span<const uint8_t>> initial;
  for (size_t i = 0; i < recording.nvdimms.size(); ++i) {
    const explore::RecordedNvdimm& n = recording.nvdimms[i];
    if (!n.initial_image.empty()) {
      fs::path image = n.initial_image;
      if (image.is_relative()) image = recording_file.parent_path() / image;
      NVLAB_RETURN_IF_ERROR(ReadOnlyMapping::Open(image, n.size, &mappings[i]));
    }
    initial.push_back(mappings[i].bytes());
  }

  // 2. Crash points and 3. their spaces, in one pass of the replay.
  std::vector<uint64_t> points;
  NVLAB_RETURN_IF_ERROR(explore::ResolveCrashPoints(spec, recording, config.seed, &points));
  std::unique_ptr<explore::CrashReplay> replay;
  NVLAB_RETURN_IF_ERROR(explore::CrashReplay::Create(
      &recording,
      config.guest.machine.persistence == Persistence::kEadr ? model::Platform::kEadr
                                                             : model::Platform::kAdr,
      initial, &replay));
  std::vector<CrashStateSpace> spaces(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    NVLAB_RETURN_IF_ERROR(replay->AdvanceTo(points[i]));
    NVLAB_RETURN_IF_ERROR(replay->BuildSpace(explore::SpaceLimits(), &spaces[i])
                              .WithContext("crash point " + std::to_string(points[i])));
  }
  replay.reset();
  if (config.log != nullptr) {
    *config.log << "nvlab: recorded " << recording.events.size() << " NVDIMM events; "
                << points.size() << " crash points\n";
  }

  // 4. The check loop: one explorer over every crash point, its batches checked by `jobs`
  // guests at once.
  const auto explore_start = std::chrono::steady_clock::now();
  CheckGuests guests;
  NVLAB_RETURN_IF_ERROR(guests.Start(config.jobs, config, folder.path(), recording, initial));
  result->start_seconds = SecondsSince(explore_start);
  explore::ExploreOptions options;
  options.prune = config.prune;
  options.seed = config.seed;
  options.batch = static_cast<size_t>(config.jobs);
  if (config.max_states != 0) options.max_checks = config.max_states;
  explore::LazyExplorer explorer(
      options, [&guests, &config](std::span<const explore::CrashImage* const> images,
                                  std::vector<explore::CheckResult>* results) {
        return guests.Check(images, config.deadline, results);
      });
  std::vector<CrashPointResult> point_results(points.size());
  std::atomic<uint64_t> done_points{0};
  std::thread progress;
  std::atomic<bool> finished{false};
  if (config.progress != nullptr) {
    progress = std::thread([&] {
      while (!finished.load()) {
        *config.progress << "\r\033[Knvlab: explore: crash point " << done_points.load() << "/"
                         << points.size() << ", " << guests.checks() << " states checked"
                         << std::flush;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      *config.progress << "\r\033[K" << std::flush;
    });
  }
  Status explored = Status::Ok();
  for (size_t i = 0; i < points.size() && explored.ok(); ++i) {
    if (InterruptionSignal() != 0) {
      explored = Status::Cancelled("interrupted by signal " + std::to_string(InterruptionSignal()));
      break;
    }
    explored = explorer.Explore(spaces[i], &point_results[i])
                   .WithContext("crash point " + std::to_string(points[i]));
    ++done_points;
  }
  finished = true;
  if (progress.joinable()) progress.join();
  NVLAB_RETURN_IF_ERROR(explored);
  result->explore_seconds = SecondsSince(explore_start);

  // Totals, and the failures described.
  for (size_t i = 0; i < points.size(); ++i) {
    const CrashPointResult& r = point_results[i];
    explore::ExploreTotals& t = result->totals;
    ++t.crash_points;
    t.states += r.states;
    t.visited += r.visited;
    t.distinct += r.distinct;
    t.pruned += r.pruned;
    t.not_tried += r.not_tried;
    t.failed_visits += r.failed_visits;
    t.failed_states += r.failed_states;
    const CrashStateSpace& space = spaces[i];
    for (const explore::ExploreFailure& f : r.failures) {
      ExplorationFailure failure;
      failure.crash_point = r.crash_point;
      failure.at_end = r.crash_point >= recording.events.size();
      if (!failure.at_end) failure.fence_pc = recording.events[r.crash_point].pc;
      failure.represented = f.represented;
      for (const size_t u : f.pinned) {
        const explore::UndeterminedLine& line = space.undetermined[u];
        FailedLine fl;
        fl.gpa = line.gpa;
        fl.candidate = f.choices[u];
        fl.candidates = static_cast<uint32_t>(line.candidates.size());
        fl.persisted = fl.candidate + 1 == fl.candidates;
        if (!fl.persisted) fl.missed = MissedWrites(recording, line, fl.candidate);
        failure.lines.push_back(std::move(fl));
      }
      BuildTimeline(recording, &failure);
      if (f.image < guests.outcomes().size()) {
        failure.check_output = guests.outcomes()[f.image].output;
        failure.verdict = guests.outcomes()[f.image].verdict;
      }
      if (!config.keep_failures.empty()) {
        const fs::path dir =
            config.keep_failures / ("point" + std::to_string(r.crash_point) + "-state" +
                                    std::to_string(result->failures.size()));
        NVLAB_RETURN_IF_ERROR(
            guests.WriteImageFiles(explorer.images().image(f.image), dir, &failure.kept_images));
      }
      result->failures.push_back(std::move(failure));
    }
  }
  NameFunctions(recording, config.symbol_dirs, config.log, &result->failures);
  result->crash_points = std::move(point_results);
  result->seconds = SecondsSince(start);
  return Status::Ok();
}

}  // namespace nvlab
