// File: lab/plugin/recording_writer.h
//
// RecordingWriter is the plugin's end of a recording (option record=, crash-state exploration:
// docs/design/exploration.md, format docs/formats/recording.md): it streams the events of the
// recording window to disk through nvlab_explore's RecordingEncoder.
//
// Files, for record=<path>:
//   <path>.nvdimm<N>   NVDIMM N's initial image: a sparse copy of its backing file at Start
//                      (data extents only), fsynced. The recording names it by its file name,
//                      relative to the recording's folder.
//   <path>.part        the recording while it is written; Finish() fsyncs it and renames it to
//                      <path>. A <path> from an earlier run is removed at Start, so a file at
//                      <path> is always a whole recording of this run (end record, checksum).
//
// What it records, given events in execution order by the plugin:
//   Store    split at 64-byte lines and NVDIMM ends; bytes outside every NVDIMM are dropped.
//   Flush    one event for the line holding the address (if inside an NVDIMM).
//   Fence    only when the vCPU recorded a flush or non-temporal store since its last recorded
//            fence (or WBINVD): exact for the replay (a fence with nothing of its vCPU pending
//            orders nothing), and it keeps the kernel's millions of locked instructions out.
//   Wbinvd   always.
// Processes get ids on first sight (Process()), each record before the first store naming it.
//
// Errors: the first failure to write (or to allocate) removes <path>.part and the initial
// images, calls the on_error callback once with one sentence, and turns every later call into
// a no-op; Finish() then returns false. Methods never throw.
//
// Life cycle: Start (header, NVDIMM records, images) -> events -> Finish once. Destroying an
// unfinished writer abandons the recording (files removed).
// Thread-safety: not safe for concurrent use (the plugin holds its mutex).

#ifndef NVLAB_PLUGIN_RECORDING_WRITER_H_
#define NVLAB_PLUGIN_RECORDING_WRITER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nvlab/explore/recording.h"
#include "nvlab/explore/recording_encoder.h"

namespace nvlab::plugin {

// RecordingSource is one NVDIMM: where it sits and its backing file (read at Start).
struct RecordingSource {
  uint64_t base = 0;
  uint64_t size = 0;
  int fd = -1;  // Stays the caller's.
};

class RecordingWriter {
 public:
  using ErrorSink = std::function<void(const std::string& sentence)>;

  // Start creates the initial images and <path>.part with the header and NVDIMM records. On
  // failure returns null with one sentence in *error, and leaves none of its files behind.
  static std::unique_ptr<RecordingWriter> Start(const std::string& path,
                                                const std::vector<RecordingSource>& nvdimms,
                                                ErrorSink on_error, std::string* error);
  ~RecordingWriter();
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  // Process returns the recording's id for a guest process (pid, comm), adding its record on
  // first sight; 0 once failed.
  uint32_t Process(uint32_t pid, std::string_view name) noexcept;
  void Store(unsigned cpu, uint64_t pc, uint64_t gpa, const uint8_t* bytes, uint64_t size,
             bool non_temporal, uint32_t process) noexcept;
  void Flush(unsigned cpu, uint64_t pc, uint64_t gpa, explore::FlushKind kind) noexcept;
  // Fence records the fence only when `cpu` wants one (WantsFence).
  void Fence(unsigned cpu, uint64_t pc, explore::FenceKind kind) noexcept;
  void Wbinvd(unsigned cpu, uint64_t pc) noexcept;

  // WantsFence: `cpu` recorded a flush or NT store since its last recorded fence or WBINVD.
  bool WantsFence(unsigned cpu) const {
    return cpu < fence_wanted_.size() && fence_wanted_[cpu] != 0;
  }
  // AnyFenceWanted: some vCPU wants a fence (the plugin's fast path for idle fences).
  bool AnyFenceWanted() const { return cpus_wanting_fence_ > 0; }

  // Finish writes the end record, fsyncs, closes and renames <path>.part to <path>. False
  // (after on_error) when that or an earlier write failed.
  bool Finish() noexcept;

  bool failed() const { return failed_; }
  uint64_t event_count() const { return encoder_.event_count(); }
  const std::string& path() const { return path_; }

 private:
  RecordingWriter(std::string path, ErrorSink on_error);

  void AddEvent(const explore::RecordedEvent& event);
  void WantFence(unsigned cpu);
  void FenceDone(unsigned cpu);
  // WriteOut writes the encoder's bytes to the file (all of them, or when `at_least` are
  // waiting); false after failing.
  bool WriteOut(size_t at_least);
  // Fail removes the files, reports `sentence` once and stops the writer.
  void Fail(const std::string& sentence);
  void RemoveFiles();

  std::string path_;
  std::string part_path_;
  std::vector<std::string> image_paths_;
  std::vector<explore::RecordedNvdimm> nvdimms_;
  ErrorSink on_error_;
  int fd_ = -1;
  bool failed_ = false;
  bool finished_ = false;
  explore::RecordingEncoder encoder_;
  std::vector<uint8_t> fence_wanted_;  // Per vCPU (< kMaxRecordedCpus).
  size_t cpus_wanting_fence_ = 0;
  std::unordered_map<std::string, uint32_t> process_ids_;  // "pid/comm" -> id
};

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_RECORDING_WRITER_H_
