// File: nvlab/console_recorder.h
//
// ConsoleRecorder keeps one boot's serial console: QEMU connects its console chardev to the
// recorder's unix socket, and a thread of the recorder copies every byte into the console log
// file, keeping at most the last `cap` bytes there (a guest flooding its console cannot fill
// the host's disk). While copying it notes when the console last spoke (hang detection) and
// whether the guest kernel printed its panic line ("Kernel panic - not syncing").
//
// Life cycle: Start (before QEMU starts: QEMU connects at its own start) -> QEMU runs -> Stop
// (or destruction). Stop drains what QEMU already wrote, so the log is complete once QEMU has
// ended.
//
// The log file: the bytes as the guest wrote them; when it would grow past `cap`, the oldest
// part is dropped and the file holds a line saying so followed by the last cap/2 bytes or more.
// ReadConsoleTail (nvlab/console_tail.h) reads it as it reads any console file.
//
// The copy (nvlab --console): with a `copy_fd`, every byte also goes there as it arrives,
// unchanged (the guest's output passed through, as a command's is); a failed write is ignored.
//
// Thread-safety: the accessors may be called from any thread while the recorder runs; Start and
// Stop from the owner's thread only.

#ifndef NVLAB_CONSOLE_RECORDER_H_
#define NVLAB_CONSOLE_RECORDER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "nvlab/status.h"

namespace nvlab {

// kConsoleLogCap: how much of a console nvlab keeps by default (the last 4 MiB).
inline constexpr uint64_t kConsoleLogCap = 4ull << 20;

// kKernelPanicLine is how a Linux kernel starts its panic message.
inline constexpr char kKernelPanicLine[] = "Kernel panic - not syncing";

class ConsoleRecorder {
 public:
  using Clock = std::chrono::steady_clock;

  // Start listens on `socket` (removed first if present), creates (truncates) `log` and starts
  // the copying thread; copy_fd, when >= 0, gets a copy of the console (the caller keeps it
  // open). Errors: InvalidArgument when the path does not fit a unix socket address or cap is
  // under 4 KiB; IoError naming the file or socket.
  static Status Start(const std::filesystem::path& socket, const std::filesystem::path& log,
                      uint64_t cap, std::unique_ptr<ConsoleRecorder>* out, int copy_fd = -1);

  ~ConsoleRecorder();
  ConsoleRecorder(const ConsoleRecorder&) = delete;
  ConsoleRecorder& operator=(const ConsoleRecorder&) = delete;

  // Stop reads what is left on the connection (until QEMU closed it, or briefly when it has
  // not), then ends the thread and closes the socket. Idempotent.
  void Stop();

  // last_output: when a console byte last arrived (Start's time until one does).
  Clock::time_point last_output() const;
  // panicked: the guest kernel's panic line went by; panic_line() is that line (escaped, at
  // most 200 bytes; it may miss its end when the console stopped mid-line).
  bool panicked() const { return panicked_.load(std::memory_order_acquire); }
  std::string panic_line() const;
  // bytes_seen: every byte received, kept or dropped.
  uint64_t bytes_seen() const { return bytes_seen_.load(std::memory_order_relaxed); }

 private:
  ConsoleRecorder() = default;
  void Loop();
  // Append writes a chunk to the log, dropping the oldest part when it would pass the cap.
  void Append(std::string_view chunk);
  // Watch looks for the panic line in the chunk (and the end of the previous one).
  void Watch(std::string_view chunk);

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int log_fd_ = -1;
  int copy_fd_ = -1;  // not owned
  uint64_t cap_ = kConsoleLogCap;
  uint64_t log_size_ = 0;   // the log file's size (the thread's own)
  std::string carry_;       // the end of the last chunk: a panic line split across two reads
  std::string panic_text_;  // the panic line being collected, up to its newline
  bool collecting_panic_ = false;
  std::filesystem::path socket_;
  std::thread thread_;
  std::atomic<int64_t> last_output_ns_{0};
  std::atomic<bool> panicked_{false};
  std::atomic<uint64_t> bytes_seen_{0};
  mutable std::mutex panic_mutex_;
  std::string panic_line_;  // guarded by panic_mutex_
};

}  // namespace nvlab

#endif  // NVLAB_CONSOLE_RECORDER_H_
