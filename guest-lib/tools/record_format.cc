// record_format.cc -- kPatterns, FindPattern, Expected.
#include "record_format.h"

#include <cstring>

namespace nvlab_records {

const Pattern kPatterns[] = {
    {"flush-drain", Method::kFlushDrain, false},
    {"flushranges", Method::kFlushRanges, false},
    {"write-persist", Method::kWritePersist, false},
    {"write-nt", Method::kWriteNt, false},
    {"fill-flush", Method::kFillFlush, true},
    {"fill-persist", Method::kFillPersist, true},
    {"plain-store-clwb-sfence", Method::kPlainClwbSfence, false},
    {"plain-store-clflushopt", Method::kPlainClflushoptSfence, false},
    {"plain-store-clflush", Method::kPlainClflush, false},
    {"noflush", Method::kNoFlush, false},
    {"flush-nodrain", Method::kFlushNoDrain, false},
    {"write-nt-nodrain", Method::kWriteNtNoDrain, false},
};
const size_t kPatternCount = sizeof kPatterns / sizeof kPatterns[0];

int FindPattern(const char* name) {
  for (size_t i = 0; i < kPatternCount; ++i) {
    if (std::strcmp(kPatterns[i].name, name) == 0) return static_cast<int>(i);
  }
  return -1;
}

namespace {

uint64_t Fnv1a(const unsigned char* bytes, size_t n) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser: a payload no zeroed line can match
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

void Expected(int pattern, uint32_t index, unsigned char out[kRecordSize]) {
  if (kPatterns[pattern].is_fill) {
    // Never 0x00 (a zeroed NVDIMM) nor 0xFF.
    const auto value = static_cast<unsigned char>(0x40 + (pattern * 31 + index) % 0xBF);
    std::memset(out, value, kRecordSize);
    return;
  }
  RecordLayout r{};
  r.magic = kMagic;
  r.sequence = uint64_t{index} + 1;
  r.index = index;
  r.pattern_id = static_cast<uint32_t>(pattern);
  std::strncpy(r.pattern, kPatterns[pattern].name, sizeof r.pattern - 1);
  r.payload = Mix((uint64_t{static_cast<uint32_t>(pattern)} << 32) | index);
  std::memcpy(out, &r, kRecordSize);
  r.checksum = Fnv1a(out, kRecordSize - 8);
  std::memcpy(out, &r, kRecordSize);
}

}  // namespace nvlab_records
