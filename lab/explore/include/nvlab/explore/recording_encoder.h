// File: nvlab/explore/recording_encoder.h
//
// RecordingEncoder writes a recording in the binary format of docs/formats/recording.md as the
// events happen: the header at construction, then NVDIMM records, process records (each
// before the first store that names it), event records, and Finish()'s end record with the
// event count and the checksum. The output accumulates in bytes(); a streaming writer (the
// plugin, later) writes it out and clears it whenever it likes, the checksum is kept apart.
//
// The encoder writes what it is given: it does not validate (ValidateRecording does, and the
// decoder rejects what is not valid). EncodeRecording encodes a whole in-memory Recording.
//
// Life cycle: construct, add NVDIMMs, then processes and events, then Finish() once; nothing
// may be added after Finish().
// Thread-safety: an object is not safe for concurrent use.

#ifndef NVLAB_EXPLORE_RECORDING_ENCODER_H_
#define NVLAB_EXPLORE_RECORDING_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "nvlab/explore/recording.h"

namespace nvlab::explore {

inline constexpr char kRecordingMagic[8] = {'N', 'V', 'L', 'A', 'B', 'R', 'E', 'C'};
inline constexpr uint32_t kRecordingVersion = 1;

// Record types (docs/formats/recording.md).
enum class RecordType : uint8_t {
  kNvdimm = 0x01,
  kProcess = 0x02,
  kStore = 0x10,
  kFlush = 0x11,
  kFence = 0x12,
  kWbinvd = 0x13,
  kEnd = 0x7F,
};

class RecordingEncoder {
 public:
  RecordingEncoder();

  void AddNvdimm(const RecordedNvdimm& nvdimm);
  void AddProcess(const RecordedProcess& process);
  void AddEvent(const RecordedEvent& event);
  void Finish();

  // bytes: what was encoded and not yet cleared by the caller.
  std::string& bytes() { return bytes_; }
  uint64_t event_count() const { return event_count_; }

 private:
  void Put(const void* data, size_t size);
  void PutU8(uint8_t value) { Put(&value, 1); }
  void PutU16(uint16_t value);
  void PutU32(uint32_t value);
  void PutU64(uint64_t value);

  std::string bytes_;
  uint64_t checksum_;  // FNV-1a 64 of every byte put so far.
  uint64_t event_count_ = 0;
};

// EncodeRecording returns the whole file for a recording (processes before the events).
std::string EncodeRecording(const Recording& recording);

// RecordingChecksum is FNV-1a 64 over data, continuing from `state` (start:
// kRecordingChecksumStart).
inline constexpr uint64_t kRecordingChecksumStart = 0xcbf29ce484222325ULL;
uint64_t RecordingChecksum(uint64_t state, const void* data, size_t size);

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_RECORDING_ENCODER_H_
