// File: nvlab/exploration/crash_state_checker.h
//
// A CrashStateChecker is one resident guest that checks crash states, one after another, without
// booting per state (docs/design/exploration.md, "The check loop"). It boots once, with its own
// copies of the recording's initial NVDIMM images and the model watching loads (watch-loads=on),
// and then, for each state:
//
//   agent detach-nvdimms (file systems unmounted, block caches dropped) -> QMP stop ->
//   the NVDIMM files rewritten to the state's image -> model watch-begin -> QMP cont ->
//   agent attach-nvdimms (a mount that fails is the state's verdict) -> the check ->
//   agent detach-nvdimms -> model watch-end: the NVDIMM lines the check loaded, in order.
//
// The check runs without the guest's shell when its command is a plain list of words
// (check_command.h).
//
// The rewrite compares the files' data extents (SEEK_DATA: an NVDIMM file is mostly holes) with
// the state's image and writes the lines that differ, so whatever the last check, its mounts and
// unmounts stored is undone as well, without trusting the guest to say what it wrote.
//
// On devdax the agent's detach and attach, and the QMP stop and cont, are skipped: nothing in
// the guest caches a dax device's content, and between checks nothing maps it.
//
// Without pruning (--no-prune) nothing reads a check's loads, so the checker is started with
// watch_loads off: the plugin instruments no loads and the two watch exchanges are skipped (a
// check costs about a third less; BENCHMARKS.md, "The check loop"). CheckOutcome::lines_read is
// then empty.
//
// With a host share, the check guest mounts it again with the page cache (cache=loose), so that
// a check program on the share is read from the host once, not at every exec; a check program
// that is a file of the share is moreover served from the guest's memory at its own path
// (CheckProgramOnShare, check_command.h).
//
// Life cycle: Start -> Check ... -> destruction (the guest is killed, its folder removed).
// Thread-safety: one thread at a time per checker; checkers are independent.

#ifndef NVLAB_EXPLORATION_CRASH_STATE_CHECKER_H_
#define NVLAB_EXPLORATION_CRASH_STATE_CHECKER_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nvlab/explore/crash_image.h"
#include "nvlab/explore/recording.h"
#include "nvlab/guest.h"
#include "nvlab/status.h"

namespace nvlab {

// CheckOutcome is one check's result.
struct CheckOutcome {
  bool passed = false;
  std::string verdict;               // "exit 0", "exit 3", "signal 9", "mount failed: ..."
  std::string output;                // stdout then stderr, at most kMaxCheckOutput bytes kept
  std::vector<uint64_t> lines_read;  // guest-physical line addresses, first-read order
};

inline constexpr size_t kMaxCheckOutput = size_t{16} * 1024;

class CrashStateChecker {
 public:
  // Start copies the initial images into `folder` (the checker's NVDIMM files) and boots the
  // guest. `guest` is the lab's guest configuration (its model, record and nvdimm_images are set
  // here); nvdimms and initial_images come from the recording. watch_loads: whether each check
  // reports the NVDIMM lines it read (what pruning needs).
  static Status Start(GuestConfig guest, const std::filesystem::path& folder,
                      const std::vector<explore::RecordedNvdimm>& nvdimms,
                      std::vector<std::span<const uint8_t>> initial_images, std::string check,
                      std::chrono::milliseconds check_timeout, bool watch_loads,
                      std::unique_ptr<CrashStateChecker>* out);
  ~CrashStateChecker();
  CrashStateChecker(const CrashStateChecker&) = delete;
  CrashStateChecker& operator=(const CrashStateChecker&) = delete;

  // Check runs the check on `image` (lines that differ from the initial images). A non-OK
  // status means the check could not run (the guest died, a deadline, the model refused).
  Status Check(const explore::CrashImage& image, Deadline deadline, CheckOutcome* outcome);

  // WriteImageFiles writes the full image of `image` (one file per NVDIMM) under `dir` as
  // nvdimm<N>.img: what `nvlab run --nvdimm-image` takes to replay a failure.
  Status WriteImageFiles(const explore::CrashImage& image, const std::filesystem::path& dir,
                         std::vector<std::filesystem::path>* files) const;

 private:
  CrashStateChecker() = default;
  // RewriteFiles makes every NVDIMM file hold the initial image with `image`'s lines.
  Status RewriteFiles(const explore::CrashImage& image);
  Status RewriteFile(size_t nvdimm, const explore::CrashImage& image);
  // ParseWatchFile reads the plugin's watch-end file into the outcome's line lists.
  Status ParseWatchFile(const std::filesystem::path& path, CheckOutcome* outcome) const;

  std::unique_ptr<Guest> guest_;
  std::vector<explore::RecordedNvdimm> nvdimms_;
  std::vector<std::span<const uint8_t>> initial_;
  std::vector<int> fds_;  // the guest's NVDIMM files, open for writing
  std::string check_;
  std::vector<std::string> check_argv_;  // CheckArgv(check_): without a shell when plain
  std::chrono::milliseconds check_timeout_{60000};
  std::filesystem::path share_dir_;  // the host's share, when the guest has one
  bool watch_loads_ = true;          // false: no plugin load callbacks, no watch exchanges
  bool detaches_ = true;  // fsdax and raw: the agent detaches and attaches around each check
  std::filesystem::path watch_file_;  // where the plugin writes the lines a check read
  // Per NVDIMM, the chunks of its initial image that hold data (found by the first rewrite).
  std::vector<std::vector<uint64_t>> chunks_of_initial_;
  bool initial_scanned_ = false;
};

}  // namespace nvlab

#endif  // NVLAB_EXPLORATION_CRASH_STATE_CHECKER_H_
