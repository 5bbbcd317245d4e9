// File: tests/explore/random_recording.h
//
// RandomRecording draws a synthetic recording for the exploration core's tests: one NVDIMM of
// `lines` lines at kRandomRecordingBase, and a stream of stores (plain and NT, 1 to 24 bytes,
// any alignment, some across two lines; NT stores of 4, 8 or 16 bytes, naturally aligned),
// flushes of the three kinds, fences and the odd WBINVD, on three vCPUs. `mix` sets how often
// each kind comes (percent thresholds over one roll of 0-99).

#ifndef NVLAB_TESTS_EXPLORE_RANDOM_RECORDING_H_
#define NVLAB_TESTS_EXPLORE_RANDOM_RECORDING_H_

#include <cstddef>
#include <cstdint>

#include "nvlab/explore/recording.h"
#include "nvlab/explore/seeded_random.h"

namespace nvlab::explore {

inline constexpr uint64_t kRandomRecordingBase = 0x100000000;
inline constexpr uint32_t kRandomRecordingCpus = 3;

// A roll below stores is a store, below flushes a flush, below fences a fence; the rest WBINVD.
struct EventMix {
  uint64_t stores = 45;
  uint64_t flushes = 75;
  uint64_t fences = 97;
};

inline Recording RandomRecording(uint64_t seed, size_t events, uint64_t lines, EventMix mix) {
  const uint64_t base = kRandomRecordingBase;
  const uint64_t size = lines * kLineBytes;
  SeededRandom random(seed);
  Recording r;
  r.nvdimms.push_back({base, size, ""});
  for (size_t i = 0; i < events; ++i) {
    const uint32_t cpu = static_cast<uint32_t>(random.Below(kRandomRecordingCpus));
    const uint64_t roll = random.Below(100);
    if (roll < mix.stores) {
      const bool nt = random.Below(4) == 0;
      const uint8_t bytes_stored = nt ? static_cast<uint8_t>(4 << random.Below(3))
                                      : static_cast<uint8_t>(1 + random.Below(24));
      uint64_t addr = base + random.Below(size);
      if (nt) addr &= ~(uint64_t{bytes_stored} - 1);  // NT stores are naturally aligned.
      if (addr + bytes_stored > base + size) addr = base + size - bytes_stored;
      uint8_t bytes[64];
      for (uint8_t b = 0; b < bytes_stored; ++b) bytes[b] = static_cast<uint8_t>(random.Next());
      r.events.push_back(RecordedEvent::Store(cpu, addr, bytes, bytes_stored, nt));
    } else if (roll < mix.flushes) {
      static constexpr FlushKind kKinds[] = {FlushKind::kClwb, FlushKind::kClflushopt,
                                             FlushKind::kClflush};
      r.events.push_back(
          RecordedEvent::Flush(cpu, base + random.Below(size), kKinds[random.Below(3)]));
    } else if (roll < mix.fences) {
      r.events.push_back(RecordedEvent::Fence(cpu));
    } else {
      r.events.push_back(RecordedEvent::Wbinvd(cpu));
    }
  }
  return r;
}

}  // namespace nvlab::explore

#endif  // NVLAB_TESTS_EXPLORE_RANDOM_RECORDING_H_
