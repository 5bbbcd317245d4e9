// progress_line.cc -- ProgressLine: one line on a terminal that says what nvlab waits for.

#include "nvlab/progress_line.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace nvlab {
namespace {

constexpr char kEraseLine[] = "\r\x1b[K";
constexpr std::chrono::milliseconds kTickInterval{250};

}  // namespace

ProgressLine::Writer ProgressLine::StderrWriter() {
  return [](std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = write(STDERR_FILENO, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  };
}

ProgressLine::ProgressLine(Writer writer, Options options)
    : writer_(std::move(writer)), options_(options) {
  if (!options_.enabled || !options_.ticker) return;
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, kTickInterval);
      if (stopping_) break;
      lock.unlock();
      Tick(Clock::now());
      lock.lock();
    }
  });
}

ProgressLine::~ProgressLine() {
  Done();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void ProgressLine::Set(std::string phase) {
  if (!options_.enabled) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (phase_.empty()) since_ = Clock::now();
  phase_ = phase.empty() ? std::string("working") : std::move(phase);
}

void ProgressLine::Clear() {
  if (!options_.enabled) return;
  std::lock_guard<std::mutex> lock(mutex_);
  EraseLocked();
}

void ProgressLine::Done() {
  if (!options_.enabled) return;
  std::lock_guard<std::mutex> lock(mutex_);
  EraseLocked();
  phase_.clear();
}

void ProgressLine::Tick(Clock::time_point now) {
  if (!options_.enabled) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (phase_.empty() || now - since_ < options_.delay) return;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - since_).count();
  writer_("\rnvlab: " + phase_ + " (" + std::to_string(seconds) + " s)" + "\x1b[K");
  shown_ = true;
}

void ProgressLine::EraseLocked() {
  if (!shown_) return;
  writer_(kEraseLine);
  shown_ = false;
}

bool ProgressWanted(bool json, bool console, bool verbose) {
  if (json || console || verbose || isatty(STDERR_FILENO) != 1) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

}  // namespace nvlab
