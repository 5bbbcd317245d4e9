// File: nvlab/exploration/exploration.h
//
// ExploreCrashStates is crash-state exploration on a full system (docs/design/exploration.md):
// `nvlab explore` and the C++ entry point for test suites.
//
//   1. Record once: a guest runs the workload under the persistence model with record= on; the
//      agent marks the command's start and end, so the recording holds its NVDIMM stores,
//      flushes and fences with the NVDIMMs' contents at its start (nvlab/explore/recording.h).
//   2. Crash points: `crash_points` (nvlab/explore/crash_points.h) over the recording.
//   3. Crash states: at each point, every image the model allows (CrashReplay), checked by
//      LazyExplorer, which runs the check on one state and branches only on the NVDIMM lines
//      the check read (prune = false: every state, or a seeded sample).
//   4. The check loop: `jobs` resident guests (CrashStateChecker), each booted once with the
//      recording's initial images, get each state's image written into their NVDIMM files
//      between checks and run the check, the model watching which NVDIMM lines it loads; the
//      explorer gives them batches of `jobs` states at once.
//
// The result lists every failing state the explorer reported, with the stores that did not
// persist, and the check's output; exploration_report.h writes it as text, JSON and JUnit.
//
// Thread-safety: ExploreCrashStates runs a thread of its own per check guest (the guest's QEMU
// lives as long as the thread that started it) and returns after they end;
// the config's streams are written from the calling thread only.

#ifndef NVLAB_EXPLORATION_EXPLORATION_H_
#define NVLAB_EXPLORATION_EXPLORATION_H_

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "nvlab/deadline.h"
#include "nvlab/explore/lazy_explorer.h"
#include "nvlab/explore/recording.h"
#include "nvlab/guest.h"
#include "nvlab/status.h"

namespace nvlab {

struct ExplorationConfig {
  // The guest both steps boot: machine, image, share, warm template, model plugin. Its model
  // settings are overridden (the model is on; record and watch_loads are set per step) and its
  // nvdimm_images are the exploration's own.
  GuestConfig guest;
  std::string workload;  // shell text, run once under the recording
  std::string check;     // shell text, run on every crash state; exit 0 = the state passes
  std::string crash_points = "fences";
  uint64_t seed = 0;
  uint64_t max_states = 0;  // per crash point; 0: no limit
  bool prune = true;
  int jobs = 1;                         // resident check guests, 1-16
  std::filesystem::path keep_failures;  // empty: failing images are not kept
  // recording_dir: where the recording is kept. When it already holds a recording of the same
  // workload, that recording is explored and the workload does not run again (a new check,
  // other crash points, or pruned and exhaustive exploration of one recording). Empty: the
  // recording lives in a temporary folder, removed at the end.
  std::filesystem::path recording_dir;
  Deadline deadline = Deadline::Never();           // the whole exploration
  std::chrono::milliseconds check_timeout{60000};  // one check
  // symbol_dirs: where the guest's programs have host copies (the guest tools, the share
  // folder), to name the function behind a user-space PC (nvlab/user_symbolizer.h).
  std::vector<std::filesystem::path> symbol_dirs;
  std::ostream* log = nullptr;       // -v: progress lines
  std::ostream* progress = nullptr;  // a terminal: a progress bar, redrawn in place
};

// MissedWrite is a write that a failing state did not persist: the store (or flush, or NT
// store) whose landing would have made the line's next candidate content.
struct MissedWrite {
  uint64_t event = 0;  // its index in the recording
  explore::EventKind kind = explore::EventKind::kStore;
  uint64_t gpa = 0;
  uint64_t pc = 0;
  uint32_t pid = 0;
  std::string process;  // the guest process's name, when the recording knows it
  std::string symbol;   // "function+0xoff" behind pc, when a host copy of the program names it
};

// FailedLine is one line the failing state pinned: which of its candidates it held.
struct FailedLine {
  uint64_t gpa = 0;
  uint32_t candidate = 0;           // 0: what the platform guarantees
  uint32_t candidates = 0;          // how many contents the line could hold
  bool persisted = false;           // candidate == candidates - 1: every write landed ("in")
  std::vector<MissedWrite> missed;  // the writes after the chosen prefix ("out")
};

// TimelineEvent is one recorded event shown in a failure's timeline: the stores and flushes of
// the lines the failing state pinned, and the fences and WBINVDs that ordered them.
struct TimelineEvent {
  uint64_t event = 0;
  explore::EventKind kind = explore::EventKind::kStore;
  // cpu numbers the recording's CPUs in the order they first appear in it (the model tells
  // CPUs apart by their kernel per-CPU area, not by the guest's own numbering).
  uint32_t cpu = 0;
  uint64_t gpa = 0;  // stores and flushes
  uint8_t size = 0;  // stores
  bool non_temporal = false;
  uint64_t pc = 0;
  std::string process;
  std::string symbol;   // as MissedWrite::symbol
  bool missed = false;  // a write the failing state did not persist
};

// kMaxTimelineEvents: a failure's timeline keeps the last events before its crash point.
inline constexpr size_t kMaxTimelineEvents = 200;

struct ExplorationFailure {
  uint64_t crash_point = 0;  // the cut came before this event; == events: the end
  bool at_end = false;
  uint64_t fence_pc = 0;      // the event at the crash point (its PC), when not at the end
  std::string fence_process;  // that event's process and symbol, when known
  std::string fence_symbol;
  explore::StateCount represented;
  std::vector<FailedLine> lines;
  std::string check_output;  // stdout and stderr, shortened, untrusted text escaped
  std::string verdict;       // "exit N", "signal N", or the reason the check could not start
  std::vector<std::filesystem::path> kept_images;  // with keep_failures: one file per NVDIMM
  std::vector<TimelineEvent> timeline;             // at most kMaxTimelineEvents, in order
  uint64_t timeline_skipped = 0;                   // earlier events of the timeline not kept
};

struct ExplorationResult {
  explore::ExploreTotals totals;
  std::vector<explore::CrashPointResult> crash_points;  // ascending crash point
  std::vector<ExplorationFailure> failures;             // in crash point order
  std::vector<explore::RecordedNvdimm> nvdimms;  // the recording's layout (offsets in reports)
  uint64_t recorded_events = 0;
  bool reused_recording = false;  // recording_dir held the recording: the workload did not run
  double record_seconds = 0;
  double explore_seconds = 0;  // the check loop, the check guests' start included
  double start_seconds = 0;    // of which the check guests' start (warm starts, or boots)
  double seconds = 0;
  int workload_exit = 0;  // the workload's exit status
  std::string check;      // the check command, for replay lines
};

// ExploreCrashStates records the workload, then explores. OK when exploration ran (whatever the
// verdicts: result->totals.failed_states says); an error when it could not (the workload failed
// or cut the power, a guest could not boot, the check timed out, the recording is malformed).
Status ExploreCrashStates(const ExplorationConfig& config, ExplorationResult* result);

}  // namespace nvlab

#endif  // NVLAB_EXPLORATION_EXPLORATION_H_
