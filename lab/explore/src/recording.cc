// recording.cc -- RecordedEvent factories, Recording::NvdimmOf, ValidateRecording.
#include "nvlab/explore/recording.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>

#include "nvlab/hex.h"

namespace nvlab::explore {

const char* ToString(EventKind kind) {
  switch (kind) {
    case EventKind::kStore:
      return "store";
    case EventKind::kFlush:
      return "flush";
    case EventKind::kFence:
      return "fence";
    case EventKind::kWbinvd:
      return "wbinvd";
  }
  return "event";
}
namespace {

Status EventError(size_t index, const std::string& what) {
  return Status::InvalidArgument("event " + std::to_string(index) + ": " + what);
}

// UnusedFieldsAreZero -- (internal) a field a kind does not use must hold its default, so that
// a recording read back from its bytes equals the one written.
bool UnusedFieldsAreZero(const RecordedEvent& e) {
  const bool store = e.kind == EventKind::kStore;
  if (!store) {
    if (e.size != 0 || e.non_temporal || e.process != 0) return false;
    if (std::any_of(e.bytes.begin(), e.bytes.end(), [](uint8_t b) { return b != 0; })) return false;
  } else {
    for (size_t i = e.size; i < e.bytes.size(); ++i) {
      if (e.bytes[i] != 0) return false;
    }
  }
  if (e.kind != EventKind::kFlush && e.flush != FlushKind::kClflush) return false;
  if (e.kind != EventKind::kFence && e.fence != FenceKind::kSfence) return false;
  if ((e.kind == EventKind::kFence || e.kind == EventKind::kWbinvd) && e.gpa != 0) return false;
  return true;
}

}  // namespace

RecordedEvent RecordedEvent::Store(uint32_t cpu, uint64_t gpa, const void* data, uint8_t size,
                                   bool non_temporal, uint64_t pc, uint32_t process) {
  RecordedEvent e;
  e.kind = EventKind::kStore;
  e.cpu = cpu;
  e.gpa = gpa;
  e.size = size;
  e.non_temporal = non_temporal;
  e.pc = pc;
  e.process = process;
  std::memcpy(e.bytes.data(), data, std::min<size_t>(size, kLineBytes));
  return e;
}

RecordedEvent RecordedEvent::Flush(uint32_t cpu, uint64_t gpa, FlushKind kind, uint64_t pc) {
  RecordedEvent e;
  e.kind = EventKind::kFlush;
  e.cpu = cpu;
  e.gpa = gpa;
  e.flush = kind;
  e.pc = pc;
  return e;
}

RecordedEvent RecordedEvent::Fence(uint32_t cpu, FenceKind kind, uint64_t pc) {
  RecordedEvent e;
  e.kind = EventKind::kFence;
  e.cpu = cpu;
  e.fence = kind;
  e.pc = pc;
  return e;
}

RecordedEvent RecordedEvent::Wbinvd(uint32_t cpu, uint64_t pc) {
  RecordedEvent e;
  e.kind = EventKind::kWbinvd;
  e.cpu = cpu;
  e.pc = pc;
  return e;
}

bool operator==(const RecordedEvent& a, const RecordedEvent& b) {
  return a.kind == b.kind && a.cpu == b.cpu && a.pc == b.pc && a.gpa == b.gpa && a.size == b.size &&
         a.non_temporal == b.non_temporal && a.process == b.process && a.flush == b.flush &&
         a.fence == b.fence && a.bytes == b.bytes;
}

namespace {

// NvdimmHolding -- (internal) the index of the NVDIMM holding gpa, or -1.
int NvdimmHolding(const std::vector<RecordedNvdimm>& nvdimms, uint64_t gpa) {
  for (size_t i = 0; i < nvdimms.size(); ++i) {
    if (gpa >= nvdimms[i].base && gpa - nvdimms[i].base < nvdimms[i].size) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

int Recording::NvdimmOf(uint64_t gpa) const {
  return NvdimmHolding(nvdimms, gpa);
}

Status ValidateEventShape(const std::vector<RecordedNvdimm>& nvdimms, const RecordedEvent& e) {
  if (e.cpu >= kMaxRecordedCpus) {
    return Status::InvalidArgument("vCPU " + std::to_string(e.cpu) + " out of range");
  }
  switch (e.kind) {
    case EventKind::kStore: {
      if (e.size == 0 || e.size > kLineBytes) {
        return Status::InvalidArgument("store of " + std::to_string(e.size) + " bytes (1 to 64)");
      }
      const int nvdimm = NvdimmHolding(nvdimms, e.gpa);
      if (nvdimm < 0 ||
          uint64_t{e.size} - 1 > nvdimms[nvdimm].base + nvdimms[nvdimm].size - 1 - e.gpa) {
        return Status::InvalidArgument("store at " + FormatHex(e.gpa) + " not inside one NVDIMM");
      }
      break;
    }
    case EventKind::kFlush:
      if (e.flush != FlushKind::kClflush && e.flush != FlushKind::kClflushopt &&
          e.flush != FlushKind::kClwb) {
        return Status::InvalidArgument("unknown flush kind");
      }
      if (NvdimmHolding(nvdimms, e.gpa) < 0) {
        return Status::InvalidArgument("flush at " + FormatHex(e.gpa) + " outside every NVDIMM");
      }
      break;
    case EventKind::kFence:
      if (e.fence != FenceKind::kSfence && e.fence != FenceKind::kMfence &&
          e.fence != FenceKind::kLocked && e.fence != FenceKind::kSerializing) {
        return Status::InvalidArgument("unknown fence kind");
      }
      break;
    case EventKind::kWbinvd:
      break;
    default:
      return Status::InvalidArgument("unknown event kind");
  }
  if (!UnusedFieldsAreZero(e))
    return Status::InvalidArgument("a field its kind does not use is set");
  return Status::Ok();
}

Status ValidateRecording(const Recording& recording) {
  if (recording.nvdimms.empty()) return Status::InvalidArgument("the recording has no NVDIMM");
  if (recording.nvdimms.size() > kMaxRecordedNvdimms) {
    return Status::InvalidArgument("the recording has more than " +
                                   std::to_string(kMaxRecordedNvdimms) + " NVDIMMs");
  }
  for (size_t i = 0; i < recording.nvdimms.size(); ++i) {
    const RecordedNvdimm& n = recording.nvdimms[i];
    const std::string name = "NVDIMM " + std::to_string(i);
    if (n.size == 0 || n.base % kLineBytes != 0 || n.size % kLineBytes != 0 ||
        n.base + n.size < n.base) {
      return Status::InvalidArgument(name + ": base " + FormatHex(n.base) + " and size " +
                                     FormatHex(n.size) +
                                     " must be non-zero multiples of 64 within 64 bits");
    }
    if (n.initial_image.size() > kMaxImagePathBytes ||
        n.initial_image.find('\0') != std::string::npos) {
      return Status::InvalidArgument(name + ": initial image path too long or holding NUL");
    }
    for (size_t j = 0; j < i; ++j) {
      const RecordedNvdimm& o = recording.nvdimms[j];
      if (n.base < o.base + o.size && o.base < n.base + n.size) {
        return Status::InvalidArgument(name + " overlaps NVDIMM " + std::to_string(j));
      }
    }
  }
  std::unordered_set<uint32_t> ids;
  for (const RecordedProcess& p : recording.processes) {
    if (p.id == 0 || !ids.insert(p.id).second) {
      return Status::InvalidArgument("process id " + std::to_string(p.id) + " is zero or repeated");
    }
    if (p.name.size() > kMaxProcessNameBytes || p.name.find('\0') != std::string::npos) {
      return Status::InvalidArgument("process " + std::to_string(p.id) +
                                     ": name too long or holding NUL");
    }
  }
  for (size_t i = 0; i < recording.events.size(); ++i) {
    const RecordedEvent& e = recording.events[i];
    Status shape = ValidateEventShape(recording.nvdimms, e);
    if (!shape.ok()) return EventError(i, shape.message());
    if (e.kind == EventKind::kStore && e.process != 0 && ids.count(e.process) == 0) {
      return EventError(i, "store names unknown process " + std::to_string(e.process));
    }
  }
  return Status::Ok();
}

}  // namespace nvlab::explore
