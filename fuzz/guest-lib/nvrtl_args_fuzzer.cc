// nvrtl_args_fuzzer.cc -- libFuzzer target: random calls with random tokens, pointers, sizes,
// flags and range arrays. Checks, besides ASan/UBSan: every status is SUCCESS or
// INVALID_PARAMETER and agrees with an independent oracle of what is valid; nothing outside the
// registered region (guard bytes on both sides) ever changes; the live token still works.
//
// Run: build/fuzz/fuzz/guest-lib/nvrtl_args_fuzzer -max_total_time=30 CORPUS_DIR
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "nvrtl/nvrtl.h"

namespace {

constexpr size_t kGuard = 4096;
constexpr size_t kRegion = 64 * 1024;

// Fixture state lives for the whole fuzzing process (libFuzzer calls the target repeatedly).
struct World {
  unsigned char* mapping = nullptr;  // guard | region | guard
  unsigned char* region = nullptr;
  PVOID live = nullptr;             // token for all of region
  PVOID inner = nullptr;            // token for region[1024, 1024+4096)
  PVOID freed = nullptr;            // a token that was freed
  unsigned char* source = nullptr;  // 2 * kRegion readable bytes
};

World& TheWorld() {
  static World w = [] {
    World x;
    void* p = mmap(nullptr, kRegion + 2 * kGuard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    x.mapping = static_cast<unsigned char*>(p);
    std::memset(x.mapping, 0xA5, kRegion + 2 * kGuard);
    x.region = x.mapping + kGuard;
    if (!NT_SUCCESS(NvRegisterNonVolatileRange(x.region, kRegion)) ||
        !NT_SUCCESS(RtlGetNonVolatileToken(x.region, kRegion, &x.live)) ||
        !NT_SUCCESS(RtlGetNonVolatileToken(x.region + 1024, 4096, &x.inner)) ||
        !NT_SUCCESS(RtlGetNonVolatileToken(x.region, 64, &x.freed)) ||
        !NT_SUCCESS(RtlFreeNonVolatileToken(x.freed))) {
      std::abort();
    }
    x.source = static_cast<unsigned char*>(std::malloc(2 * kRegion));
    std::memset(x.source, 0x3C, 2 * kRegion);
    return x;
  }();
  return w;
}

// Reader -- pulls little-endian values from the input, zeros when it runs out.
struct Reader {
  const uint8_t* data;
  size_t size;
  uint64_t Take(size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && size > 0; ++i, ++data, --size) v |= uint64_t{*data} << (8 * i);
    return v;
  }
};

// The token under test and what the oracle knows about it.
struct TokenChoice {
  PVOID token;
  bool valid;
  bool is_default;
  uintptr_t base;
  size_t size;
};

TokenChoice PickToken(Reader& in, World& w) {
  switch (in.Take(1) % 7) {
    case 0:
      return {w.live, true, false, reinterpret_cast<uintptr_t>(w.region), kRegion};
    case 1:
      return {w.inner, true, false, reinterpret_cast<uintptr_t>(w.region) + 1024, 4096};
    case 2:
      return {reinterpret_cast<PVOID>(FLUSH_NV_MEMORY_DEFAULT_TOKEN), true, true, 0, 0};
    case 3:
      return {w.freed, false, false, 0, 0};
    case 4:
      return {nullptr, false, false, 0, 0};
    case 5:  // forged near the real encoding (tag in the top bits), never a live one by luck
      return {reinterpret_cast<PVOID>((uintptr_t{0x4E56} << 48) | (in.Take(4) << 16) |
                                      (0x8000 | in.Take(2))),
              false, false, 0, 0};
    default:
      // Bit 1 cleared: never all ones, which is FLUSH_NV_MEMORY_DEFAULT_TOKEN (valid).
      return {reinterpret_cast<PVOID>((in.Take(8) & ~uint64_t{2}) | 1), false, false, 0, 0};
  }
}

// PickPointer -- inside or just around the region, NULL, or near the top of the address space.
// With the default token (no region to check against) only in-region pointers are used: that
// token trusts its caller, as on Windows.
unsigned char* PickPointer(Reader& in, World& w, bool in_region_only) {
  const uint64_t kind = in.Take(1) % (in_region_only ? 1 : 4);
  const uint64_t offset = in.Take(3);
  switch (kind) {
    case 0:
      return w.region + offset % kRegion;
    case 1:
      return nullptr;
    case 2:  // in the guard bytes just around the region
      return w.mapping + offset % (kRegion + 2 * kGuard);
    default:
      return reinterpret_cast<unsigned char*>(UINTPTR_MAX - (offset & 0xFFFF));
  }
}

size_t PickSize(Reader& in) {
  switch (in.Take(1) % 4) {
    case 0:
      return 0;
    case 1:
      return in.Take(1);
    case 2:
      return in.Take(3) % (kRegion + 128);
    default:
      return static_cast<size_t>(in.Take(8));
  }
}

bool RangeValid(const TokenChoice& t, const void* p, size_t size) {
  if (size == 0) return true;
  const auto start = reinterpret_cast<uintptr_t>(p);
  if (p == nullptr || start + size < start) return false;
  if (t.is_default) return true;
  return start >= t.base && size <= t.size && start - t.base <= t.size - size;
}

bool StoreFlagsValid(uint32_t flags) {
  if ((flags & ~0x103u) != 0) return false;
  if ((flags & 0x100u) != 0 && (flags & ~0x100u) != 0x1u) return false;
  return true;
}

void Expect(NTSTATUS got, bool valid) {
  if (got != STATUS_SUCCESS && got != STATUS_INVALID_PARAMETER) std::abort();
  if ((got == STATUS_SUCCESS) != valid) std::abort();
}

void CheckGuards(const World& w) {
  for (size_t i = 0; i < kGuard; ++i) {
    if (w.mapping[i] != 0xA5 || w.region[kRegion + i] != 0xA5) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = TheWorld();
  Reader in{data, size};
  while (in.size > 0) {
    const uint64_t op = in.Take(1) % 6;
    TokenChoice t = PickToken(in, w);
    const auto flags = static_cast<uint32_t>(in.Take(1) % 3 == 0 ? in.Take(4) : in.Take(2) & 0x103);
    switch (op) {
      case 0: {  // Write
        unsigned char* dst = PickPointer(in, w, t.is_default);
        size_t n = PickSize(in);
        if (t.is_default && RangeValid(t, dst, n) && dst + n > w.region + kRegion) {
          n = static_cast<size_t>(w.region + kRegion - dst);  // default token: stay in bounds
        }
        const uint64_t src_kind = in.Take(1) % 4;
        const unsigned char* src =
            src_kind == 0   ? w.source
            : src_kind == 1 ? nullptr
            : src_kind == 2 ? w.region + in.Take(2) % kRegion
                            : reinterpret_cast<unsigned char*>(UINTPTR_MAX - (in.Take(2) & 0xFFF));
        const auto s = reinterpret_cast<uintptr_t>(src);
        bool src_ok = n == 0 || (src != nullptr && s + n >= s);
        // A readable source must cover n bytes; skip calls the oracle would deem valid but
        // whose source we cannot back (they would read past our buffers: a test bug, not a
        // library bug).
        if (src_ok && n != 0 &&
            ((src_kind == 2 && src + n > w.region + kRegion + kGuard) || src_kind == 3)) {
          break;
        }
        const bool valid = t.valid && StoreFlagsValid(flags) && RangeValid(t, dst, n) && src_ok;
        Expect(RtlWriteNonVolatileMemory(t.token, dst, src, n, flags), valid);
        break;
      }
      case 1: {  // Fill
        unsigned char* dst = PickPointer(in, w, t.is_default);
        size_t n = PickSize(in);
        if (t.is_default && RangeValid(t, dst, n) && dst + n > w.region + kRegion) {
          n = static_cast<size_t>(w.region + kRegion - dst);
        }
        const auto value = static_cast<UCHAR>(in.Take(1));
        const bool valid = t.valid && StoreFlagsValid(flags) && RangeValid(t, dst, n);
        Expect(RtlFillNonVolatileMemory(t.token, dst, n, value, flags), valid);
        break;
      }
      case 2: {  // Flush
        unsigned char* p = PickPointer(in, w, t.is_default);
        size_t n = PickSize(in);
        if (t.is_default && RangeValid(t, p, n) && p + n > w.region + kRegion) {
          n = static_cast<size_t>(w.region + kRegion - p);
        }
        const bool valid = t.valid && (flags & ~1u) == 0 && RangeValid(t, p, n);
        Expect(RtlFlushNonVolatileMemory(t.token, p, n, flags), valid);
        break;
      }
      case 3: {  // FlushRanges
        NV_MEMORY_RANGE ranges[8];
        const size_t count = in.Take(1) % 9;
        bool valid = t.valid && (flags & ~1u) == 0;
        for (size_t i = 0; i < count; ++i) {
          unsigned char* p = PickPointer(in, w, t.is_default);
          size_t n = PickSize(in);
          if (t.is_default && RangeValid(t, p, n) && p + n > w.region + kRegion) {
            n = static_cast<size_t>(w.region + kRegion - p);
          }
          ranges[i] = {p, n};
          valid = valid && RangeValid(t, p, n);
        }
        const bool null_array = count > 0 && in.Take(1) % 8 == 0;
        if (null_array) valid = false;
        Expect(
            RtlFlushNonVolatileMemoryRanges(t.token, null_array ? nullptr : ranges, count, flags),
            valid);
        break;
      }
      case 4:  // Drain
        Expect(RtlDrainNonVolatileFlush(t.token), t.valid);
        break;
      default: {  // Get + Free of a sub-range
        unsigned char* p = PickPointer(in, w, false);
        const size_t n = PickSize(in);
        PVOID token = nullptr;
        const auto start = reinterpret_cast<uintptr_t>(p);
        const auto region = reinterpret_cast<uintptr_t>(w.region);
        const bool valid = p != nullptr && n != 0 && start + n >= start && start >= region &&
                           start - region < kRegion && n <= kRegion - (start - region);
        const NTSTATUS s = RtlGetNonVolatileToken(p, n, &token);
        Expect(s, valid);
        if (NT_SUCCESS(s) && RtlFreeNonVolatileToken(token) != STATUS_SUCCESS) std::abort();
        break;
      }
    }
    CheckGuards(w);
  }
  if (RtlDrainNonVolatileFlush(w.live) != STATUS_SUCCESS) std::abort();
  return 0;
}
