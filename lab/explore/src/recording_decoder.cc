// recording_decoder.cc -- DecodeRecording: the strict reader of the recording format.
#include "nvlab/explore/recording_decoder.h"

#include <cstring>
#include <string>
#include <unordered_set>
#include <utility>

#include "nvlab/explore/recording_encoder.h"

namespace nvlab::explore {
namespace {

// Cursor reads little-endian fields from the bytes, failing (once, sticky) when one would run
// past the end.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}

  size_t offset() const { return offset_; }
  bool at_end() const { return offset_ == bytes_.size(); }
  bool ok() const { return ok_; }

  bool Take(size_t size, const char** data) {
    if (!ok_ || size > bytes_.size() - offset_) {
      ok_ = false;
      return false;
    }
    *data = bytes_.data() + offset_;
    offset_ += size;
    return true;
  }
  uint64_t Uint(size_t size) {
    const char* data = nullptr;
    if (!Take(size, &data)) return 0;
    uint64_t value = 0;
    for (size_t i = 0; i < size; ++i) value |= uint64_t{static_cast<uint8_t>(data[i])} << (8 * i);
    return value;
  }
  uint8_t U8() { return static_cast<uint8_t>(Uint(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Uint(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Uint(4)); }
  uint64_t U64() { return Uint(8); }
  std::string Text(size_t size) {
    const char* data = nullptr;
    if (!Take(size, &data)) return {};
    return std::string(data, size);
  }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
  bool ok_ = true;
};

Status Corrupt(size_t offset, const std::string& what) {
  return Status::InvalidArgument("recording: " + what + " at byte " + std::to_string(offset));
}

// Decoder holds the state of one decode: what was defined so far, for the ordering rules.
class Decoder {
 public:
  Decoder(std::string_view bytes, Recording* out) : bytes_(bytes), in_(bytes), out_(out) {}

  Status Run() {
    *out_ = Recording();
    NVLAB_RETURN_IF_ERROR(Header());
    while (true) {
      const size_t start = in_.offset();
      if (in_.at_end()) return Corrupt(start, "truncated: no end record");
      const uint8_t type = in_.U8();
      if (type == static_cast<uint8_t>(RecordType::kEnd)) return End(start);
      NVLAB_RETURN_IF_ERROR(Record(type, start));
    }
  }

 private:
  Status Header() {
    const char* magic = nullptr;
    if (!in_.Take(sizeof kRecordingMagic, &magic) ||
        std::memcmp(magic, kRecordingMagic, sizeof kRecordingMagic) != 0) {
      return Corrupt(0, "not a recording (bad magic)");
    }
    const uint32_t version = in_.U32();
    const uint32_t flags = in_.U32();
    if (!in_.ok()) return Corrupt(in_.offset(), "truncated header");
    if (version != kRecordingVersion) {
      return Corrupt(8, "unsupported version " + std::to_string(version));
    }
    if (flags != 0) return Corrupt(12, "unknown header flags");
    return Status::Ok();
  }

  Status Record(uint8_t type, size_t start) {
    switch (static_cast<RecordType>(type)) {
      case RecordType::kNvdimm:
        return Nvdimm(start);
      case RecordType::kProcess:
        return Process(start);
      case RecordType::kStore:
      case RecordType::kFlush:
      case RecordType::kFence:
      case RecordType::kWbinvd:
        return Event(static_cast<RecordType>(type), start);
      default:
        return Corrupt(start, "unknown record type " + std::to_string(type));
    }
  }

  Status Nvdimm(size_t start) {
    if (seen_other_record_) return Corrupt(start, "NVDIMM record after other records");
    RecordedNvdimm nvdimm;
    nvdimm.base = in_.U64();
    nvdimm.size = in_.U64();
    const uint16_t length = in_.U16();
    if (in_.ok() && length > kMaxImagePathBytes) return Corrupt(start, "image path too long");
    nvdimm.initial_image = in_.Text(length);
    if (!in_.ok()) return Corrupt(start, "truncated NVDIMM record");
    if (out_->nvdimms.size() == kMaxRecordedNvdimms) return Corrupt(start, "too many NVDIMMs");
    out_->nvdimms.push_back(std::move(nvdimm));
    return Status::Ok();
  }

  // EndOfLayout: the first record that is not an NVDIMM ends the layout; it is checked then,
  // so that events are checked against a valid one.
  Status EndOfLayout(size_t start) {
    if (seen_other_record_) return Status::Ok();
    seen_other_record_ = true;
    Recording layout;
    layout.nvdimms = out_->nvdimms;
    Status valid = ValidateRecording(layout);
    if (!valid.ok()) return Corrupt(start, valid.message());
    return Status::Ok();
  }

  Status Process(size_t start) {
    NVLAB_RETURN_IF_ERROR(EndOfLayout(start));
    RecordedProcess process;
    process.id = in_.U32();
    process.pid = in_.U32();
    const uint8_t length = in_.U8();
    process.name = in_.Text(length);
    if (!in_.ok()) return Corrupt(start, "truncated process record");
    if (process.id == 0 || !processes_.insert(process.id).second) {
      return Corrupt(start, "process id " + std::to_string(process.id) + " zero or repeated");
    }
    out_->processes.push_back(std::move(process));
    return Status::Ok();
  }

  Status Event(RecordType type, size_t start) {
    if (out_->nvdimms.empty()) return Corrupt(start, "event before any NVDIMM record");
    NVLAB_RETURN_IF_ERROR(EndOfLayout(start));
    RecordedEvent e;
    e.cpu = in_.U32();
    e.pc = in_.U64();
    switch (type) {
      case RecordType::kStore: {
        e.kind = EventKind::kStore;
        e.gpa = in_.U64();
        e.process = in_.U32();
        e.size = in_.U8();
        const uint8_t flags = in_.U8();
        if (!in_.ok()) break;
        if (e.size == 0 || e.size > kLineBytes) return Corrupt(start, "store size out of 1..64");
        if (flags > 1) return Corrupt(start, "unknown store flags");
        e.non_temporal = flags == 1;
        const char* data = nullptr;
        if (in_.Take(e.size, &data)) std::memcpy(e.bytes.data(), data, e.size);
        if (e.process != 0 && processes_.count(e.process) == 0) {
          return Corrupt(start,
                         "store names process " + std::to_string(e.process) + " before its record");
        }
        break;
      }
      case RecordType::kFlush:
        e.kind = EventKind::kFlush;
        e.gpa = in_.U64();
        e.flush = static_cast<FlushKind>(in_.U8());
        break;
      case RecordType::kFence:
        e.kind = EventKind::kFence;
        e.fence = static_cast<FenceKind>(in_.U8());
        break;
      default:
        e.kind = EventKind::kWbinvd;
        break;
    }
    if (!in_.ok()) return Corrupt(start, "truncated event record");
    // Check the event now, so that the message carries its offset.
    Status shape = ValidateEventShape(out_->nvdimms, e);
    if (!shape.ok()) return Corrupt(start, shape.message());
    out_->events.push_back(e);
    return Status::Ok();
  }

  Status End(size_t start) {
    const uint64_t count = in_.U64();
    const size_t checksum_offset = in_.offset();
    const uint64_t checksum = in_.U64();
    if (!in_.ok()) return Corrupt(start, "truncated end record");
    if (count != out_->events.size()) {
      return Corrupt(start, "end record counts " + std::to_string(count) +
                                " events, the file holds " + std::to_string(out_->events.size()));
    }
    if (checksum != RecordingChecksum(kRecordingChecksumStart, bytes_.data(), checksum_offset)) {
      return Corrupt(checksum_offset, "checksum mismatch");
    }
    if (!in_.at_end()) return Corrupt(in_.offset(), "bytes after the end record");
    Status valid = ValidateRecording(*out_);
    if (!valid.ok()) return Status::InvalidArgument("recording: " + valid.message());
    return Status::Ok();
  }

  std::string_view bytes_;
  Cursor in_;
  Recording* out_;
  bool seen_other_record_ = false;
  std::unordered_set<uint32_t> processes_;
};

}  // namespace

Status DecodeRecording(std::string_view bytes, Recording* out) {
  return Decoder(bytes, out).Run();
}

}  // namespace nvlab::explore
