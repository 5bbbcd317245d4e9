// console_recorder.cc -- ConsoleRecorder: a guest console copied into a capped log file.

#include "nvlab/console_recorder.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

constexpr size_t kMaxPanicLine = 200;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             ConsoleRecorder::Clock::now().time_since_epoch())
      .count();
}

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

bool WriteAllAt(int fd, std::string_view bytes, off_t offset) {
  while (!bytes.empty()) {
    const ssize_t n = pwrite(fd, bytes.data(), bytes.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return true;
}

// CopyOut writes a chunk to the --console copy; a reader that went away costs nothing but the
// copy.
void CopyOut(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

Status ConsoleRecorder::Start(const std::filesystem::path& socket, const std::filesystem::path& log,
                              uint64_t cap, std::unique_ptr<ConsoleRecorder>* out, int copy_fd) {
  if (cap < 4096) return Status::InvalidArgument("the console log cap is under 4 KiB");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket.string();
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("console socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  std::unique_ptr<ConsoleRecorder> r(new ConsoleRecorder());
  r->cap_ = cap;
  r->copy_fd_ = copy_fd;
  r->socket_ = socket;
  r->last_output_ns_.store(NowNs(), std::memory_order_relaxed);
  r->log_fd_ = open(log.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (r->log_fd_ < 0) return Status::IoErrorFromErrno("cannot create " + log.string(), errno);
  if (pipe2(r->stop_pipe_, O_CLOEXEC) != 0) return Status::IoErrorFromErrno("pipe", errno);
  (void)unlink(path.c_str());
  r->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (r->listen_fd_ < 0 ||
      bind(r->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(r->listen_fd_, 4) != 0) {
    return Status::IoErrorFromErrno("cannot listen on " + path, errno);
  }
  r->thread_ = std::thread([raw = r.get()] { raw->Loop(); });
  *out = std::move(r);
  return Status::Ok();
}

ConsoleRecorder::~ConsoleRecorder() {
  Stop();
  CloseFd(&log_fd_);
  CloseFd(&stop_pipe_[0]);
  CloseFd(&stop_pipe_[1]);
}

void ConsoleRecorder::Stop() {
  if (thread_.joinable()) {
    const char byte = 0;
    while (write(stop_pipe_[1], &byte, 1) < 0 && errno == EINTR) {
    }
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    CloseFd(&listen_fd_);
    std::error_code ec;
    std::filesystem::remove(socket_, ec);
  }
}

ConsoleRecorder::Clock::time_point ConsoleRecorder::last_output() const {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(last_output_ns_.load(std::memory_order_relaxed))));
}

std::string ConsoleRecorder::panic_line() const {
  std::lock_guard<std::mutex> lock(panic_mutex_);
  return panic_line_;
}

void ConsoleRecorder::Loop() {
  int conn = -1;
  char buf[65536];
  bool stopping = false;
  for (;;) {
    pollfd fds[3] = {{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}, {conn, POLLIN, 0}};
    // Once asked to stop, nothing is waited for: what is already there is read, then the end.
    const int n = poll(fds, conn >= 0 ? 3 : 2, stopping ? 0 : -1);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) stopping = true;
    if (conn < 0) {
      // One QEMU per recorder: the first connection is the console.
      conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (conn >= 0) continue;
    }
    bool got = false;
    if (conn >= 0) {
      for (;;) {
        const ssize_t r = read(conn, buf, sizeof(buf));
        if (r > 0) {
          got = true;
          const std::string_view chunk(buf, static_cast<size_t>(r));
          last_output_ns_.store(NowNs(), std::memory_order_relaxed);
          bytes_seen_.fetch_add(chunk.size(), std::memory_order_relaxed);
          Watch(chunk);
          Append(chunk);
          if (copy_fd_ >= 0) CopyOut(copy_fd_, chunk);
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) CloseFd(&conn);
        break;
      }
    }
    if (stopping && !got) break;
  }
  CloseFd(&conn);
}

void ConsoleRecorder::Append(std::string_view chunk) {
  if (log_fd_ < 0) return;
  if (log_size_ + chunk.size() <= cap_) {
    if (WriteAllAt(log_fd_, chunk, static_cast<off_t>(log_size_))) log_size_ += chunk.size();
    return;
  }
  // Over the cap: keep the last cap/2 bytes (of the file and the chunk together) behind a line
  // that says the rest was dropped, so the log stays between cap/2 and cap.
  const uint64_t keep = cap_ / 2;
  std::string kept;
  if (chunk.size() < keep) {
    const uint64_t from_file = std::min<uint64_t>(keep - chunk.size(), log_size_);
    kept.resize(from_file);
    const ssize_t got =
        pread(log_fd_, kept.data(), from_file, static_cast<off_t>(log_size_ - from_file));
    kept.resize(got > 0 ? static_cast<size_t>(got) : 0);
    kept.append(chunk);
  } else {
    kept.assign(chunk.substr(chunk.size() - keep));
  }
  const std::string note = "[nvlab: earlier console output dropped; the log keeps the last " +
                           std::to_string(cap_ >> 20) + " MiB at most]\n";
  if (ftruncate(log_fd_, 0) != 0) return;
  log_size_ = 0;
  if (WriteAllAt(log_fd_, note, 0) && WriteAllAt(log_fd_, kept, static_cast<off_t>(note.size()))) {
    log_size_ = note.size() + kept.size();
  }
}

void ConsoleRecorder::Watch(std::string_view chunk) {
  if (panicked_.load(std::memory_order_relaxed) && !collecting_panic_) return;
  std::string_view rest = chunk;
  if (!collecting_panic_) {
    const std::string text = carry_ + std::string(chunk);
    const size_t at = text.find(kKernelPanicLine);
    if (at == std::string::npos) {
      const size_t keep = sizeof(kKernelPanicLine) - 2;
      carry_ = text.size() > keep ? text.substr(text.size() - keep) : text;
      return;
    }
    collecting_panic_ = true;
    panic_text_ = text.substr(at);
    rest = {};
  }
  panic_text_.append(rest);
  const size_t end = panic_text_.find('\n');
  if (end != std::string::npos || panic_text_.size() >= kMaxPanicLine) {
    panic_text_.resize(std::min({end, panic_text_.size(), kMaxPanicLine}));
    collecting_panic_ = false;
  }
  std::string line = panic_text_;
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  {
    std::lock_guard<std::mutex> lock(panic_mutex_);
    panic_line_ = EscapeUntrusted(line);
  }
  panicked_.store(true, std::memory_order_release);
}

}  // namespace nvlab
