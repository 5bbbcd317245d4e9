// recording_writer.cc -- RecordingWriter.
#include "recording_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

#include "file_extents.h"

namespace nvlab::plugin {

namespace {

using explore::kLineBytes;
using explore::RecordedEvent;

// The encoder's buffer is written out once it holds this much (and at Finish).
constexpr size_t kWriteOutBytes = size_t{1} << 20;

std::string FileName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

RecordingWriter::RecordingWriter(std::string path, ErrorSink on_error)
    : path_(std::move(path)),
      part_path_(path_ + ".part"),
      on_error_(std::move(on_error)),
      fence_wanted_(explore::kMaxRecordedCpus, 0) {}

RecordingWriter::~RecordingWriter() {
  if (!finished_ && !failed_) {
    if (fd_ >= 0) close(fd_);
    RemoveFiles();
  }
}

std::unique_ptr<RecordingWriter> RecordingWriter::Start(const std::string& path,
                                                        const std::vector<RecordingSource>& nvdimms,
                                                        ErrorSink on_error, std::string* error) {
  try {
    std::unique_ptr<RecordingWriter> w(new RecordingWriter(path, std::move(on_error)));
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      *error = "cannot remove the earlier " + path + ": " + std::strerror(errno);
      return nullptr;
    }
    for (size_t i = 0; i < nvdimms.size(); ++i) {
      std::string image = path + ".nvdimm" + std::to_string(i);
      if (!CopyDataExtents(nvdimms[i].fd, nvdimms[i].size, image, error)) {
        w->RemoveFiles();
        return nullptr;
      }
      w->image_paths_.push_back(image);
      w->nvdimms_.push_back({nvdimms[i].base, nvdimms[i].size, FileName(image)});
    }
    w->fd_ = open(w->part_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd_ < 0) {
      *error = "cannot create " + w->part_path_ + ": " + std::strerror(errno);
      w->RemoveFiles();
      return nullptr;
    }
    for (const explore::RecordedNvdimm& n : w->nvdimms_) w->encoder_.AddNvdimm(n);
    return w;
  } catch (const std::exception& e) {
    *error = std::string("cannot start the recording: ") + e.what();
    return nullptr;
  }
}

void RecordingWriter::RemoveFiles() {
  unlink(part_path_.c_str());
  for (const std::string& image : image_paths_) unlink(image.c_str());
}

void RecordingWriter::Fail(const std::string& sentence) {
  if (failed_) return;
  failed_ = true;
  std::fill(fence_wanted_.begin(), fence_wanted_.end(), 0);  // No fence needs a look now.
  cpus_wanting_fence_ = 0;
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  RemoveFiles();
  encoder_.bytes().clear();
  if (on_error_) on_error_(sentence);
}

bool RecordingWriter::WriteOut(size_t at_least) {
  std::string& bytes = encoder_.bytes();
  if (failed_ || bytes.size() < at_least || bytes.empty()) return !failed_;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Fail("cannot write " + part_path_ + ": " + std::strerror(n < 0 ? errno : EIO));
      return false;
    }
    done += static_cast<size_t>(n);
  }
  bytes.clear();
  return true;
}

void RecordingWriter::AddEvent(const RecordedEvent& event) {
  encoder_.AddEvent(event);
  WriteOut(kWriteOutBytes);
}

void RecordingWriter::WantFence(unsigned cpu) {
  if (fence_wanted_[cpu] == 0) {
    fence_wanted_[cpu] = 1;
    ++cpus_wanting_fence_;
  }
}

void RecordingWriter::FenceDone(unsigned cpu) {
  if (fence_wanted_[cpu] != 0) {
    fence_wanted_[cpu] = 0;
    --cpus_wanting_fence_;
  }
}

uint32_t RecordingWriter::Process(uint32_t pid, std::string_view name) noexcept {
  if (failed_ || finished_) return 0;
  try {
    if (name.size() > explore::kMaxProcessNameBytes)
      name = name.substr(0, explore::kMaxProcessNameBytes);
    std::string kept(name);
    std::replace(kept.begin(), kept.end(), '\0', '?');  // The format allows no NUL.
    std::string key = std::to_string(pid) + "/" + kept;
    auto it = process_ids_.find(key);
    if (it != process_ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(process_ids_.size() + 1);
    encoder_.AddProcess({id, pid, kept});
    process_ids_.emplace(std::move(key), id);
    return id;
  } catch (const std::exception& e) {
    Fail(std::string("out of memory while recording: ") + e.what());
    return 0;
  }
}

void RecordingWriter::Store(unsigned cpu, uint64_t pc, uint64_t gpa, const uint8_t* bytes,
                            uint64_t size, bool non_temporal, uint32_t process) noexcept {
  if (failed_ || finished_ || cpu >= explore::kMaxRecordedCpus) return;
  try {
    uint64_t done = 0;
    while (done < size && !failed_) {
      const uint64_t at = gpa + done;
      if (at < gpa) break;  // Wrapped past 2^64.
      const explore::RecordedNvdimm* in = nullptr;
      uint64_t next_base = ~uint64_t{0};
      for (const explore::RecordedNvdimm& n : nvdimms_) {
        if (at >= n.base && at - n.base < n.size) in = &n;
        if (n.base > at) next_base = std::min(next_base, n.base);
      }
      if (in == nullptr) {  // Skip to the next NVDIMM, if the store reaches it.
        if (next_base == ~uint64_t{0} || next_base - gpa >= size) break;
        done = next_base - gpa;
        continue;
      }
      uint64_t piece = std::min(size - done, kLineBytes - at % kLineBytes);
      piece = std::min(piece, in->base + in->size - at);
      AddEvent(RecordedEvent::Store(cpu, at, bytes + done, static_cast<uint8_t>(piece),
                                    non_temporal, pc, process));
      if (non_temporal) WantFence(cpu);
      done += piece;
    }
  } catch (const std::exception& e) {
    Fail(std::string("out of memory while recording: ") + e.what());
  }
}

void RecordingWriter::Flush(unsigned cpu, uint64_t pc, uint64_t gpa,
                            explore::FlushKind kind) noexcept {
  if (failed_ || finished_ || cpu >= explore::kMaxRecordedCpus) return;
  bool inside = false;
  for (const explore::RecordedNvdimm& n : nvdimms_)
    inside |= gpa >= n.base && gpa - n.base < n.size;
  if (!inside) return;
  try {
    AddEvent(RecordedEvent::Flush(cpu, gpa, kind, pc));
    WantFence(cpu);
  } catch (const std::exception& e) {
    Fail(std::string("out of memory while recording: ") + e.what());
  }
}

void RecordingWriter::Fence(unsigned cpu, uint64_t pc, explore::FenceKind kind) noexcept {
  if (failed_ || finished_ || !WantsFence(cpu)) return;
  try {
    AddEvent(RecordedEvent::Fence(cpu, kind, pc));
    FenceDone(cpu);
  } catch (const std::exception& e) {
    Fail(std::string("out of memory while recording: ") + e.what());
  }
}

void RecordingWriter::Wbinvd(unsigned cpu, uint64_t pc) noexcept {
  if (failed_ || finished_ || cpu >= explore::kMaxRecordedCpus) return;
  try {
    AddEvent(RecordedEvent::Wbinvd(cpu, pc));
    FenceDone(cpu);
  } catch (const std::exception& e) {
    Fail(std::string("out of memory while recording: ") + e.what());
  }
}

bool RecordingWriter::Finish() noexcept {
  if (failed_ || finished_) return !failed_;
  try {
    encoder_.Finish();
  } catch (const std::exception& e) {
    Fail(std::string("out of memory while recording: ") + e.what());
    return false;
  }
  if (!WriteOut(0)) return false;
  if (fsync(fd_) != 0) {
    Fail("cannot sync " + part_path_ + ": " + std::strerror(errno));
    return false;
  }
  const int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0) {
    Fail("cannot close " + part_path_ + ": " + std::strerror(errno));
    return false;
  }
  if (rename(part_path_.c_str(), path_.c_str()) != 0) {
    Fail("cannot rename " + part_path_ + " to " + path_ + ": " + std::strerror(errno));
    return false;
  }
  finished_ = true;
  return true;
}

}  // namespace nvlab::plugin
