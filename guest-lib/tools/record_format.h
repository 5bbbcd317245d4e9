// record_format.h -- the on-media records of nvlab-records (docs/formats/records.md).
//
// Each record fills one 64-byte cache line. Records written by stores of the record layout
// (RecordLayout) carry a magic, sequence, index, pattern id and name, a payload derived from
// (pattern, index) and an FNV-1a checksum; records written by RtlFillNonVolatileMemory are 64
// bytes of one value derived from (pattern, index). Media content is untrusted: a record
// survived only if every byte equals what `write` stores.
#ifndef NVRTL_TOOLS_RECORD_FORMAT_H_
#define NVRTL_TOOLS_RECORD_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace nvlab_records {

constexpr size_t kRecordSize = 64;
constexpr uint64_t kMagic = 0x313076434552564EULL;  // "NVRECv01" little-endian

struct RecordLayout {
  uint64_t magic;
  uint64_t sequence;  // index + 1
  uint32_t index;
  uint32_t pattern_id;
  char pattern[24];  // NUL-padded name
  uint64_t payload;
  uint64_t checksum;  // FNV-1a 64 over the first 56 bytes
};
static_assert(sizeof(RecordLayout) == kRecordSize, "one cache line per record");

// How a pattern writes its record (nvlab_records.cc implements each).
enum class Method {
  kFlushDrain,
  kFlushRanges,
  kWritePersist,
  kWriteNt,
  kFillFlush,
  kFillPersist,
  kPlainClwbSfence,
  kPlainClflushoptSfence,
  kPlainClflush,
  kNoFlush,
  kFlushNoDrain,
  kWriteNtNoDrain,
};

struct Pattern {
  const char* name;
  Method method;
  bool is_fill;  // record is 64 bytes of one value
};

// The patterns in write order: every pattern that fences comes before those that leave work
// pending, so a later SFENCE cannot complete an earlier pattern's pending flush.
extern const Pattern kPatterns[];
extern const size_t kPatternCount;

// FindPattern -- index into kPatterns, or -1.
int FindPattern(const char* name);

// Expected -- the 64 bytes `write` stores for (pattern, index).
void Expected(int pattern, uint32_t index, unsigned char out[kRecordSize]);

}  // namespace nvlab_records

#endif  // NVRTL_TOOLS_RECORD_FORMAT_H_
