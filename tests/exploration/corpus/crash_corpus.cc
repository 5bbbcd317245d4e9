// crash_corpus.cc -- the crash-consistency corpus of tests/exploration: small persistent data
// structures, each with a correct update protocol and mutants that carry exactly one bug, run in
// a guest on a devdax NVDIMM by `nvlab explore` (docs/design/exploration.md, "Corpus").
//
//   crash-corpus PROGRAM VARIANT write|check DEVICE
//
// write runs the update protocol (the workload); check reads what a power cut left and exits 0
// when recovery would find a consistent structure, 1 otherwise (printing why). A check only
// reads, and reads the same lines for the same content: pruning needs a deterministic check.
//
// Programs and their variants (the first of each is correct):
//   log-append     correct | missing-flush (an entry is never flushed before the count that
//                  publishes it) | missing-drain (entries flushed without a drain, the count
//                  stored right after)
//   pointer-swing  correct | publish-before-persist (the pointer is persisted before the data)
//                  | wrong-range (only the first of the data's two lines is flushed)
//   two-field      correct (copy-on-write: the new pair in the other slot, then an 8-byte
//                  selector) | torn-16 (one 16-byte store over the live pair)
//   ring-buffer    correct | missing-drain (the slot's flush has no drain before the head moves)
//   undo-log       correct | missing-flush (the undo record is not flushed before the update
//                  in place)
// Stores go through the guest library's Rtl*NonVolatile* functions, except two-field's, which
// are raw instructions (MOVDQU and MOV, CLWB, SFENCE).
// A structure that was never created is consistent: the checks accept the all-zero image.

#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "nvrtl/nvrtl.h"

namespace {

constexpr size_t kLine = 64;

struct Pmem {
  uint8_t* base = nullptr;
  PVOID token = nullptr;
};

[[noreturn]] void Die(const char* what) {
  (void)std::fprintf(stderr, "crash-corpus: %s\n", what);
  std::exit(2);
}

void Check(NTSTATUS s, const char* what) {
  if (!NT_SUCCESS(s)) Die(what);
}

uint8_t* Line(const Pmem& p, size_t n) {
  return p.base + n * kLine;
}

// Persist writes and flushes (with drain) through the library.
void Persist(const Pmem& p, void* dst, const void* src, size_t size) {
  Check(RtlWriteNonVolatileMemory(p.token, dst, src, size, 0), "write");
  Check(RtlFlushNonVolatileMemory(p.token, dst, size, 0), "flush");
}

void Store(const Pmem& p, void* dst, const void* src, size_t size) {
  Check(RtlWriteNonVolatileMemory(p.token, dst, src, size, 0), "write");
}

void FlushNoDrain(const Pmem& p, void* dst, size_t size) {
  Check(RtlFlushNonVolatileMemory(p.token, dst, size, FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN), "flush");
}

void Drain(const Pmem& p) {
  Check(RtlDrainNonVolatileFlush(p.token), "drain");
}

uint64_t Load64(const void* at) {
  uint64_t v = 0;
  std::memcpy(&v, at, sizeof v);
  return v;
}

int Fail(const std::string& why) {
  std::printf("inconsistent: %s\n", why.c_str());
  return 1;
}

// ---- log-append: count at line 0, entry i at line 1 + i: {seq = i + 1, value = 1000 + i}.
constexpr uint64_t kLogEntries = 3;

int LogAppend(const Pmem& p, std::string_view variant, bool write) {
  if (write) {
    for (uint64_t i = 0; i < kLogEntries; ++i) {
      const uint64_t entry[2] = {i + 1, 1000 + i};
      if (variant == "missing-flush") {
        Store(p, Line(p, 1 + i), entry, sizeof entry);
      } else if (variant == "missing-drain") {
        Store(p, Line(p, 1 + i), entry, sizeof entry);
        FlushNoDrain(p, Line(p, 1 + i), sizeof entry);
      } else {
        Persist(p, Line(p, 1 + i), entry, sizeof entry);
      }
      const uint64_t count = i + 1;
      Persist(p, Line(p, 0), &count, sizeof count);
    }
    return 0;
  }
  const uint64_t count = Load64(Line(p, 0));
  if (count > kLogEntries) return Fail("count " + std::to_string(count));
  for (uint64_t i = 0; i < count; ++i) {
    if (Load64(Line(p, 1 + i)) != i + 1 || Load64(Line(p, 1 + i) + 8) != 1000 + i) {
      return Fail("entry " + std::to_string(i) + " below count " + std::to_string(count));
    }
  }
  std::printf("log holds %llu entries\n", static_cast<unsigned long long>(count));
  return 0;
}

// ---- pointer-swing: data (2 lines, every word = 0xD0 + word index) at lines 2-3, the pointer
// (0 or the data's offset) at line 0.
constexpr size_t kDataLines = 2;

int PointerSwing(const Pmem& p, std::string_view variant, bool write) {
  uint8_t* data = Line(p, 2);
  if (write) {
    uint64_t words[kDataLines * kLine / 8];
    for (size_t i = 0; i < sizeof words / 8; ++i) words[i] = 0xD0 + i;
    const uint64_t pointer = static_cast<uint64_t>(data - p.base);
    if (variant == "publish-before-persist") {
      Persist(p, Line(p, 0), &pointer, sizeof pointer);
      Persist(p, data, words, sizeof words);
      return 0;
    }
    if (variant == "wrong-range") {
      Store(p, data, words, sizeof words);
      Check(RtlFlushNonVolatileMemory(p.token, data, kLine, 0), "flush");
    } else {
      Persist(p, data, words, sizeof words);
    }
    Persist(p, Line(p, 0), &pointer, sizeof pointer);
    return 0;
  }
  const uint64_t pointer = Load64(Line(p, 0));
  if (pointer == 0) {
    std::printf("not published\n");
    return 0;
  }
  if (pointer != 2 * kLine) return Fail("pointer " + std::to_string(pointer));
  for (size_t i = 0; i < kDataLines * kLine / 8; ++i) {
    if (Load64(p.base + pointer + 8 * i) != 0xD0 + i) {
      return Fail("published data word " + std::to_string(i));
    }
  }
  std::printf("published\n");
  return 0;
}

// ---- two-field: a pair {x, y} with y == x + 1 always. Slots at lines 4 and 5; the selector at
// line 6 says which slot is live (1: slot 0, 2: slot 1; 0: the pair does not exist yet). The
// pair is created as {1, 2} in slot 0, then moves to {7, 8}.
void RawPersist16(void* at, uint64_t x, uint64_t y) {
  const __m128i v = _mm_set_epi64x(static_cast<long long>(y), static_cast<long long>(x));
  _mm_storeu_si128(static_cast<__m128i*>(at), v);
  __asm__ volatile("clwb %0" : "+m"(*static_cast<volatile char*>(at)));
  _mm_sfence();
}

void RawPersist8(void* at, uint64_t v) {
  *static_cast<volatile uint64_t*>(at) = v;
  __asm__ volatile("clwb %0" : "+m"(*static_cast<volatile char*>(at)));
  _mm_sfence();
}

int TwoField(const Pmem& p, std::string_view variant, bool write) {
  if (write) {
    RawPersist16(Line(p, 4), 1, 2);
    RawPersist8(Line(p, 6), 1);
    if (variant == "torn-16") {
      RawPersist16(Line(p, 4), 7, 8);  // over the live pair
    } else {
      RawPersist16(Line(p, 5), 7, 8);
      RawPersist8(Line(p, 6), 2);
    }
    return 0;
  }
  const uint64_t selector = Load64(Line(p, 6));
  if (selector == 0) {
    std::printf("no pair yet\n");
    return 0;
  }
  if (selector > 2) return Fail("selector " + std::to_string(selector));
  const uint8_t* slot = Line(p, 4 + selector - 1);
  const uint64_t x = Load64(slot);
  const uint64_t y = Load64(slot + 8);
  if (y != x + 1) return Fail("pair {" + std::to_string(x) + ", " + std::to_string(y) + "}");
  std::printf("pair {%llu, %llu}\n", static_cast<unsigned long long>(x),
              static_cast<unsigned long long>(y));
  return 0;
}

// ---- ring-buffer: head (entries published) at line 8, slots at lines 9.. each {seq, ~seq}.
constexpr uint64_t kRingSlots = 3;

int RingBuffer(const Pmem& p, std::string_view variant, bool write) {
  if (write) {
    for (uint64_t i = 0; i < kRingSlots; ++i) {
      const uint64_t slot[2] = {i + 1, ~(i + 1)};
      Store(p, Line(p, 9 + i), slot, sizeof slot);
      if (variant == "missing-drain") {
        FlushNoDrain(p, Line(p, 9 + i), sizeof slot);
        const uint64_t head = i + 1;
        Store(p, Line(p, 8), &head, sizeof head);
        FlushNoDrain(p, Line(p, 8), sizeof head);
        Drain(p);
      } else {
        FlushNoDrain(p, Line(p, 9 + i), sizeof slot);
        Drain(p);
        const uint64_t head = i + 1;
        Persist(p, Line(p, 8), &head, sizeof head);
      }
    }
    return 0;
  }
  const uint64_t head = Load64(Line(p, 8));
  if (head > kRingSlots) return Fail("head " + std::to_string(head));
  for (uint64_t i = 0; i < head; ++i) {
    if (Load64(Line(p, 9 + i)) != i + 1 || Load64(Line(p, 9 + i) + 8) != ~(i + 1)) {
      return Fail("slot " + std::to_string(i) + " below head " + std::to_string(head));
    }
  }
  std::printf("ring holds %llu entries\n", static_cast<unsigned long long>(head));
  return 0;
}

// ---- undo-log: a value V over lines 16-17 (every word = its generation), created as
// generation 1 and marked created at line 21; then updated to generation 2 under the undo
// record at line 20: {valid, old generation}. Recovery: a valid record rolls V back, so V may
// be torn only while the record is valid (or before V was created).
constexpr size_t kValueWords = 2 * kLine / 8;

void FillValue(const Pmem& p, uint64_t generation) {
  uint64_t words[kValueWords];
  for (uint64_t& w : words) w = generation;
  Persist(p, Line(p, 16), words, sizeof words);
}

int UndoLog(const Pmem& p, std::string_view variant, bool write) {
  if (write) {
    FillValue(p, 1);
    const uint64_t created = 1;
    Persist(p, Line(p, 21), &created, sizeof created);
    const uint64_t record[2] = {1, 1};
    if (variant == "missing-flush") {
      Store(p, Line(p, 20), record, sizeof record);
    } else {
      Persist(p, Line(p, 20), record, sizeof record);
    }
    FillValue(p, 2);
    const uint64_t cleared = 0;
    Persist(p, Line(p, 20), &cleared, sizeof cleared);
    return 0;
  }
  if (Load64(Line(p, 21)) != 1) {
    std::printf("no value yet\n");
    return 0;
  }
  if (Load64(Line(p, 20)) == 1) {
    std::printf("undo record valid: rolled back to generation %llu\n",
                static_cast<unsigned long long>(Load64(Line(p, 20) + 8)));
    return 0;
  }
  const uint64_t generation = Load64(Line(p, 16));
  for (size_t i = 1; i < kValueWords; ++i) {
    if (Load64(Line(p, 16) + 8 * i) != generation) {
      return Fail("value torn at word " + std::to_string(i) + " with no undo record");
    }
  }
  std::printf("value generation %llu\n", static_cast<unsigned long long>(generation));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    (void)std::fprintf(stderr, "usage: crash-corpus PROGRAM VARIANT write|check DEVICE\n");
    return 2;
  }
  const std::string_view program = argv[1];
  const std::string_view variant = argv[2];
  const std::string_view mode = argv[3];
  if (mode != "write" && mode != "check") Die("mode must be write or check");
  Pmem p;
  PVOID base = nullptr;
  SIZE_T size = 0;
  Check(NvMapDaxDevice(argv[4], &base, &size), "map the dax device");
  p.base = static_cast<uint8_t*>(base);
  Check(RtlGetNonVolatileToken(base, 64 * kLine, &p.token), "token");
  const bool write = mode == "write";
  int status = 2;
  if (program == "log-append") {
    status = LogAppend(p, variant, write);
  } else if (program == "pointer-swing") {
    status = PointerSwing(p, variant, write);
  } else if (program == "two-field") {
    status = TwoField(p, variant, write);
  } else if (program == "ring-buffer") {
    status = RingBuffer(p, variant, write);
  } else if (program == "undo-log") {
    status = UndoLog(p, variant, write);
  } else {
    Die("unknown program");
  }
  RtlFreeNonVolatileToken(p.token);
  return status;
}
