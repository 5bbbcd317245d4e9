// dispatch.cc -- g_dispatch, InitDispatch (run by a load-time constructor), the test hooks and
// NvQueryFlushInstruction.
#include "dispatch.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "nvrtl/nvrtl.h"
#include "x86_64/flush.h"
#include "x86_64/init.h"
#include "x86_64/nt_kernels.h"

namespace nvrtl {

// Safe defaults (CLFLUSH, SSE2) until the constructor runs, for callers in other constructors.
constinit Dispatch g_dispatch{
    x86_64::FlushClflush, FlushKind::kClflush, x86_64::CopyNtSse2, x86_64::FillNtSse2, 256, 0};

namespace {

// Default non-temporal threshold. Measured in bench/guest-lib (BENCHMARKS.md): below it the
// written lines are cheaper to keep in cache and write back; above it streaming wins.
constexpr size_t kDefaultMovntThreshold = 256;

bool ParseFlushKind(const char* text, FlushKind* kind) {
  if (std::strcmp(text, "clwb") == 0) {
    *kind = FlushKind::kClwb;
  } else if (std::strcmp(text, "clflushopt") == 0) {
    *kind = FlushKind::kClflushopt;
  } else if (std::strcmp(text, "clflush") == 0) {
    *kind = FlushKind::kClflush;
  } else {
    return false;
  }
  return true;
}

const char* KindName(FlushKind kind) {
  switch (kind) {
    case FlushKind::kClwb:
      return "clwb";
    case FlushKind::kClflushopt:
      return "clflushopt";
    case FlushKind::kClflush:
      return "clflush";
  }
  return "?";
}

__attribute__((constructor)) void InitDispatchAtLoad() {
  InitDispatch();
}

}  // namespace

void InitDispatch() noexcept {
  const char* log_text = std::getenv("NVRTL_LOG");
  const bool log = log_text != nullptr && std::strcmp(log_text, "0") != 0;
  FlushKind forced{};
  const FlushKind* wanted = nullptr;
  if (const char* text = std::getenv("NVRTL_FLUSH"); text != nullptr && *text != '\0') {
    if (ParseFlushKind(text, &forced)) {
      wanted = &forced;
    } else {
      (void)std::fprintf(
          stderr, "nvrtl: NVRTL_FLUSH=%s ignored (want clwb, clflushopt or clflush)\n", text);
    }
  }
  x86_64::NtIsa isa = x86_64::NtIsa::kBest;
  if (const char* text = std::getenv("NVRTL_NT"); text != nullptr && *text != '\0') {
    if (std::strcmp(text, "sse2") == 0) {
      isa = x86_64::NtIsa::kSse2;
    } else if (std::strcmp(text, "avx") == 0) {
      isa = x86_64::NtIsa::kAvx;
    } else if (std::strcmp(text, "avx512f") == 0) {
      isa = x86_64::NtIsa::kAvx512f;
    } else {
      (void)std::fprintf(stderr, "nvrtl: NVRTL_NT=%s ignored (want sse2, avx or avx512f)\n", text);
    }
  }
  if (!x86_64::InitCpuDispatch(g_dispatch, wanted, isa)) {
    (void)std::fprintf(stderr,
                       "nvrtl: NVRTL_FLUSH or NVRTL_NT names what this CPU lacks: ignored\n");
  }

  size_t threshold = kDefaultMovntThreshold;
  if (const char* text = std::getenv("NVRTL_MOVNT_THRESHOLD"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 0);
    if (end != nullptr && *end == '\0') {
      threshold = static_cast<size_t>(value);
    } else {
      (void)std::fprintf(stderr, "nvrtl: NVRTL_MOVNT_THRESHOLD=%s ignored (want a byte count)\n",
                         text);
    }
  }
  g_dispatch.movnt_threshold.store(threshold, std::memory_order_relaxed);

  uint8_t domain = 0;
  if (const char* text = std::getenv("NVRTL_PERSISTENCE"); text != nullptr && *text != '\0') {
    if (std::strcmp(text, "adr") == 0) {
      domain = static_cast<uint8_t>(PersistenceDomain::kMemoryController);
    } else if (std::strcmp(text, "eadr") == 0) {
      domain = static_cast<uint8_t>(PersistenceDomain::kCpuCache);
    } else {
      (void)std::fprintf(stderr, "nvrtl: NVRTL_PERSISTENCE=%s ignored (want adr or eadr)\n", text);
    }
  }
  g_dispatch.persistence_override.store(domain, std::memory_order_relaxed);

  if (log) {
    (void)std::fprintf(stderr, "nvrtl: flush=%s movnt_threshold=%zu persistence=%s\n",
                       KindName(g_dispatch.flush_kind.load()), threshold,
                       domain == 0 ? "per-region" : (domain == 1 ? "adr" : "eadr"));
  }
}

void SetFlushKindForTesting(FlushKind kind) noexcept {
  g_dispatch.flush_kind.store(kind, std::memory_order_relaxed);
  g_dispatch.flush.store(x86_64::FlushFor(kind), std::memory_order_relaxed);
}

uint64_t FlushExecutionsForTesting(FlushKind kind) noexcept {
  return x86_64::ExecutionsOf(kind);
}

}  // namespace nvrtl

extern "C" NVRTL_API ULONG NvQueryFlushInstruction(void) {
  return static_cast<ULONG>(nvrtl::g_dispatch.flush_kind.load(std::memory_order_relaxed));
}
