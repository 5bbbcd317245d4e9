// argument_checks.h -- the inline validation every hot-path entry point shares.
//
// Each returns STATUS_SUCCESS or records why (last_error.h) and returns
// STATUS_INVALID_PARAMETER. No locks, no system calls, no allocation.
#ifndef NVRTL_SRC_ARGUMENT_CHECKS_H_
#define NVRTL_SRC_ARGUMENT_CHECKS_H_

#include <cstdint>

#include "dispatch.h"
#include "last_error.h"
#include "token_table.h"

namespace nvrtl {

// Flag sets of Write and Fill (same values): 0, FLUSH, NON_TEMPORAL, PERSIST, FLUSH|NO_DRAIN.
constexpr ULONG kStoreFlush = 0x1;
constexpr ULONG kStoreNonTemporal = 0x2;
constexpr ULONG kStoreNoDrain = 0x100;

inline NTSTATUS CheckToken(const void* token, TokenView* view) noexcept {
  if (token == nullptr) return Fail(STATUS_INVALID_PARAMETER, "NvToken is NULL");
  if (!ResolveToken(token, view)) {
    return Fail(STATUS_INVALID_PARAMETER, "NvToken is not a live token (forged or freed)");
  }
  return STATUS_SUCCESS;
}

// CheckRange -- [p, p+size) must not wrap and must lie inside the token's region. Size 0 is
// valid anywhere (nothing is touched).
inline NTSTATUS CheckRange(const TokenView& view, const void* p, size_t size) noexcept {
  if (size == 0) return STATUS_SUCCESS;
  const auto start = reinterpret_cast<uintptr_t>(p);
  if (p == nullptr) return Fail(STATUS_INVALID_PARAMETER, "NULL buffer with a non-zero size");
  if (start + size < start) return Fail(STATUS_INVALID_PARAMETER, "address + size overflows");
  if (view.is_default) return STATUS_SUCCESS;
  if (start < view.base || size > view.size || start - view.base > view.size - size) {
    return Fail(STATUS_INVALID_PARAMETER, "range lies outside the token's region");
  }
  return STATUS_SUCCESS;
}

inline NTSTATUS CheckFlushFlags(ULONG flags) noexcept {
  if ((flags & ~ULONG{FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN}) != 0) {
    return Fail(STATUS_INVALID_PARAMETER, "unknown flush flag bits");
  }
  return STATUS_SUCCESS;
}

// CheckStoreFlags -- Write/Fill flags; NO_DRAIN only together with FLUSH alone.
inline NTSTATUS CheckStoreFlags(ULONG flags) noexcept {
  if ((flags & ~(kStoreFlush | kStoreNonTemporal | kStoreNoDrain)) != 0) {
    return Fail(STATUS_INVALID_PARAMETER, "unknown flag bits");
  }
  if ((flags & kStoreNoDrain) != 0 && (flags & ~kStoreNoDrain) != kStoreFlush) {
    return Fail(STATUS_INVALID_PARAMETER, "NO_DRAIN is valid only with FLUSH alone");
  }
  return STATUS_SUCCESS;
}

// CheckStore -- all of Write's and Fill's checks of their token, flags and destination.
inline NTSTATUS CheckStore(const void* token, const void* dst, size_t size, ULONG flags,
                           TokenView* view) noexcept {
  if (NTSTATUS s = CheckToken(token, view); !NT_SUCCESS(s)) return s;
  if (NTSTATUS s = CheckStoreFlags(flags); !NT_SUCCESS(s)) return s;
  return CheckRange(*view, dst, size);
}

// NeedsFlush -- whether write-back instructions are needed in this token's domain.
inline bool NeedsFlush(const TokenView& view) noexcept {
  return view.domain != PersistenceDomain::kCpuCache;
}

// StreamingPays -- whether a Write/Fill should use non-temporal stores: always for NON_TEMPORAL;
// for PERSIST from one whole cache line up (a streamed line plus SFENCE is cheaper than a dirty
// line's write-back plus SFENCE: bench/guest-lib, 1.3x at 64 bytes); otherwise from the
// NVRTL_MOVNT_THRESHOLD up (below it, data the caller may reread stays cached).
inline bool StreamingPays(ULONG flags, size_t size) noexcept {
  const ULONG kind = flags & ~kStoreNoDrain;
  if (kind == kStoreNonTemporal) return true;
  if (kind == (kStoreFlush | kStoreNonTemporal) && size >= 64) return true;
  return size >= g_dispatch.movnt_threshold.load(std::memory_order_relaxed);
}

}  // namespace nvrtl

#endif  // NVRTL_SRC_ARGUMENT_CHECKS_H_
