// File: nvlab/explore/recording.h
//
// A Recording is what one run of a workload under the persistence model records for crash-state
// exploration (docs/design/exploration.md): the NVDIMM layout, each NVDIMM's media image at the
// start (by reference: the recording names the file, it does not embed it), the guest
// processes that stored, and every NVDIMM event in execution order:
//
//   store   a plain or non-temporal store of 1 to 64 bytes (guest-physical address, the bytes,
//           vCPU, guest PC, process);
//   flush   CLFLUSH, CLFLUSHOPT or CLWB of the line holding an address (vCPU, PC);
//   fence   SFENCE, MFENCE, a locked instruction or a serializing one (vCPU, PC);
//   wbinvd  WBINVD or WBNOINVD (vCPU, PC): a fence, then every dirty line is written back.
//
// An event's index in `events` is its position in time; a crash point "before event k" means
// events [0, k) ran. The byte layout on disk is docs/formats/recording.md: recording_encoder.h
// writes it, recording_decoder.h reads it, recording_file.h does both with files.
//
// ValidateRecording states what a well-formed recording is; every reader and writer checks it.
//
// Thread-safety: plain values and a pure function.

#ifndef NVLAB_EXPLORE_RECORDING_H_
#define NVLAB_EXPLORE_RECORDING_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::explore {

inline constexpr uint64_t kLineBytes = 64;
// The model's limit on vCPU indexes (model::PersistenceDomain::kMaxCpus).
inline constexpr uint32_t kMaxRecordedCpus = 1024;
inline constexpr size_t kMaxRecordedNvdimms = 64;
inline constexpr size_t kMaxImagePathBytes = 4096;
inline constexpr size_t kMaxProcessNameBytes = 255;

enum class EventKind : uint8_t { kStore = 1, kFlush = 2, kFence = 3, kWbinvd = 4 };
enum class FlushKind : uint8_t { kClflush = 1, kClflushopt = 2, kClwb = 3 };
enum class FenceKind : uint8_t { kSfence = 1, kMfence = 2, kLocked = 3, kSerializing = 4 };

// ToString names an event kind as reports show it: "store", "flush", "fence", "wbinvd".
const char* ToString(EventKind kind);

// RecordedEvent is one event; fields a kind does not use are zero.
struct RecordedEvent {
  EventKind kind = EventKind::kFence;
  uint32_t cpu = 0;                       // vCPU index, < kMaxRecordedCpus.
  uint64_t pc = 0;                        // Guest virtual address of the instruction (0: unknown).
  uint64_t gpa = 0;                       // store: first byte; flush: any byte of the line.
  uint8_t size = 0;                       // store: 1..64 bytes.
  bool non_temporal = false;              // store: MOVNTI, MOVNTDQ, MOVDIR64B, ...
  uint32_t process = 0;                   // store: id of a RecordedProcess, 0 when unknown.
  FlushKind flush = FlushKind::kClflush;  // flush only.
  FenceKind fence = FenceKind::kSfence;   // fence only.
  std::array<uint8_t, kLineBytes> bytes{};  // store: bytes[0, size) were stored.

  static RecordedEvent Store(uint32_t cpu, uint64_t gpa, const void* data, uint8_t size,
                             bool non_temporal = false, uint64_t pc = 0, uint32_t process = 0);
  static RecordedEvent Flush(uint32_t cpu, uint64_t gpa, FlushKind kind, uint64_t pc = 0);
  static RecordedEvent Fence(uint32_t cpu, FenceKind kind = FenceKind::kSfence, uint64_t pc = 0);
  static RecordedEvent Wbinvd(uint32_t cpu, uint64_t pc = 0);
};

bool operator==(const RecordedEvent& a, const RecordedEvent& b);

// RecordedNvdimm is one NVDIMM at guest-physical [base, base + size).
struct RecordedNvdimm {
  uint64_t base = 0;  // Multiple of 64.
  uint64_t size = 0;  // Multiple of 64, > 0.
  // The file holding the NVDIMM's media as it was when the recording started (a copy of the
  // backing file); empty: the media started as zeroes.
  std::string initial_image;

  bool operator==(const RecordedNvdimm&) const = default;
};

// RecordedProcess names the guest process a store came from.
struct RecordedProcess {
  uint32_t id = 0;  // > 0, unique in the recording; stores refer to it.
  uint32_t pid = 0;
  std::string name;  // At most kMaxProcessNameBytes, no NUL.

  bool operator==(const RecordedProcess&) const = default;
};

struct Recording {
  std::vector<RecordedNvdimm> nvdimms;  // At least one, at most kMaxRecordedNvdimms, disjoint.
  std::vector<RecordedProcess> processes;
  std::vector<RecordedEvent> events;

  bool operator==(const Recording&) const = default;

  // NvdimmOf returns the index of the NVDIMM holding gpa, or -1.
  int NvdimmOf(uint64_t gpa) const;
};

// ValidateRecording returns InvalidArgument naming the first problem: an NVDIMM with a zero or
// unaligned base or size, overflowing, overlapping another, or with a path too long or holding
// NUL; a process id of 0 or repeated, a name too long or holding NUL; an event with a bad kind,
// a vCPU out of range, a store of 0 or more than 64 bytes, a store or flush not wholly inside
// one NVDIMM, a store naming an unknown process, or a non-zero field its kind does not use.
Status ValidateRecording(const Recording& recording);

// ValidateEventShape checks one event as ValidateRecording does, but for the process it names
// (the decoder checks that one itself, as it reads).
Status ValidateEventShape(const std::vector<RecordedNvdimm>& nvdimms, const RecordedEvent& event);

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_RECORDING_H_
