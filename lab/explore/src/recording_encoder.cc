// recording_encoder.cc -- RecordingEncoder, EncodeRecording, RecordingChecksum.
#include "nvlab/explore/recording_encoder.h"

#include <utility>

namespace nvlab::explore {

uint64_t RecordingChecksum(uint64_t state, const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    state ^= bytes[i];
    state *= 0x100000001b3ULL;
  }
  return state;
}

RecordingEncoder::RecordingEncoder() : checksum_(kRecordingChecksumStart) {
  Put(kRecordingMagic, sizeof kRecordingMagic);
  PutU32(kRecordingVersion);
  PutU32(0);  // Flags: none defined.
}

void RecordingEncoder::Put(const void* data, size_t size) {
  bytes_.append(static_cast<const char*>(data), size);
  checksum_ = RecordingChecksum(checksum_, data, size);
}

void RecordingEncoder::PutU16(uint16_t value) {
  const uint8_t le[2] = {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8)};
  Put(le, sizeof le);
}

void RecordingEncoder::PutU32(uint32_t value) {
  uint8_t le[4];
  for (int i = 0; i < 4; ++i) le[i] = static_cast<uint8_t>(value >> (8 * i));
  Put(le, sizeof le);
}

void RecordingEncoder::PutU64(uint64_t value) {
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(value >> (8 * i));
  Put(le, sizeof le);
}

void RecordingEncoder::AddNvdimm(const RecordedNvdimm& nvdimm) {
  PutU8(static_cast<uint8_t>(RecordType::kNvdimm));
  PutU64(nvdimm.base);
  PutU64(nvdimm.size);
  PutU16(static_cast<uint16_t>(nvdimm.initial_image.size()));
  Put(nvdimm.initial_image.data(), nvdimm.initial_image.size());
}

void RecordingEncoder::AddProcess(const RecordedProcess& process) {
  PutU8(static_cast<uint8_t>(RecordType::kProcess));
  PutU32(process.id);
  PutU32(process.pid);
  PutU8(static_cast<uint8_t>(process.name.size()));
  Put(process.name.data(), process.name.size());
}

void RecordingEncoder::AddEvent(const RecordedEvent& event) {
  ++event_count_;
  switch (event.kind) {
    case EventKind::kStore:
      PutU8(static_cast<uint8_t>(RecordType::kStore));
      PutU32(event.cpu);
      PutU64(event.pc);
      PutU64(event.gpa);
      PutU32(event.process);
      PutU8(event.size);
      PutU8(event.non_temporal ? 1 : 0);
      Put(event.bytes.data(), event.size <= kLineBytes ? event.size : kLineBytes);
      break;
    case EventKind::kFlush:
      PutU8(static_cast<uint8_t>(RecordType::kFlush));
      PutU32(event.cpu);
      PutU64(event.pc);
      PutU64(event.gpa);
      PutU8(static_cast<uint8_t>(event.flush));
      break;
    case EventKind::kFence:
      PutU8(static_cast<uint8_t>(RecordType::kFence));
      PutU32(event.cpu);
      PutU64(event.pc);
      PutU8(static_cast<uint8_t>(event.fence));
      break;
    case EventKind::kWbinvd:
      PutU8(static_cast<uint8_t>(RecordType::kWbinvd));
      PutU32(event.cpu);
      PutU64(event.pc);
      break;
  }
}

void RecordingEncoder::Finish() {
  PutU8(static_cast<uint8_t>(RecordType::kEnd));
  PutU64(event_count_);
  const uint64_t checksum = checksum_;
  PutU64(checksum);
}

std::string EncodeRecording(const Recording& recording) {
  RecordingEncoder encoder;
  for (const RecordedNvdimm& nvdimm : recording.nvdimms) encoder.AddNvdimm(nvdimm);
  for (const RecordedProcess& process : recording.processes) encoder.AddProcess(process);
  for (const RecordedEvent& event : recording.events) encoder.AddEvent(event);
  encoder.Finish();
  return std::move(encoder.bytes());
}

}  // namespace nvlab::explore
