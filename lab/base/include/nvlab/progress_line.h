// File: nvlab/progress_line.h
//
// ProgressLine shows what nvlab is waiting for on a terminal: one line, rewritten in place
// ("\r" + text + clear-to-end-of-line), that appears only once a wait has lasted `delay` (1 s:
// quick steps stay silent) and is erased when the wait is done. nvlab uses one for the image
// build (the package being fetched) and the boot phases (QEMU start, kernel and agent, NVDIMM
// setup); it is enabled only when stderr is a terminal and no --json, --console or -v output
// shares it (ProgressWanted).
//
// Life cycle: construct -> Set(phase) ... -> Done() (or destruction); Set after Done starts a new
// wait. A ticker thread redraws the line every 250 ms with the seconds waited; tests construct
// without the thread and call Tick with times of their own.
//
// Thread-safety: every member may be called from any thread (one mutex); the writer is called
// with it held, so lines never interleave with each other.

#ifndef NVLAB_PROGRESS_LINE_H_
#define NVLAB_PROGRESS_LINE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace nvlab {

class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;
  using Writer = std::function<void(std::string_view bytes)>;

  struct Options {
    bool enabled = true;  // false: every call does nothing
    std::chrono::milliseconds delay{1000};
    bool ticker = true;  // false: no thread; the caller calls Tick
  };

  // StderrWriter writes to file descriptor 2.
  static Writer StderrWriter();

  ProgressLine(Writer writer, Options options);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Set names what is being waited for now ("booting: the kernel and the agent"); the seconds
  // count from the first Set after construction or Done, so the phases of one wait add up.
  void Set(std::string phase);
  // Clear erases the line if shown (before another line goes to the same terminal); the next
  // tick draws it again.
  void Clear();
  // Done erases the line if shown and ends the wait.
  void Done();
  // Tick draws the line as of `now` when a wait has lasted the delay.
  void Tick(Clock::time_point now);

  bool enabled() const { return options_.enabled; }

 private:
  void EraseLocked();

  Writer writer_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string phase_;        // empty: no wait
  Clock::time_point since_;  // when the wait began
  bool shown_ = false;
  bool stopping_ = false;
  std::thread ticker_;
};

// ProgressWanted: stderr is a terminal (and TERM is not "dumb") and nothing else writes there
// meanwhile: not with --json, --console or -v.
bool ProgressWanted(bool json, bool console, bool verbose);

}  // namespace nvlab

#endif  // NVLAB_PROGRESS_LINE_H_
