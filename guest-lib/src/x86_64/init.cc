// x86_64/init.cc -- InitCpuDispatch, FlushFor, ExecutionsOf.
#include "x86_64/init.h"

#include "x86_64/cpu.h"
#include "x86_64/flush.h"
#include "x86_64/nt_kernels.h"

namespace nvrtl::x86_64 {
namespace {

bool Available(FlushKind kind) {
  switch (kind) {
    case FlushKind::kClwb:
      return HasClwb();
    case FlushKind::kClflushopt:
      return HasClflushopt();
    case FlushKind::kClflush:
      return HasClflush();
  }
  return false;
}

}  // namespace

FlushFn FlushFor(FlushKind kind) noexcept {
  switch (kind) {
    case FlushKind::kClwb:
      return FlushClwb;
    case FlushKind::kClflushopt:
      return FlushClflushopt;
    case FlushKind::kClflush:
      return FlushClflush;
  }
  return FlushClflush;
}

uint64_t ExecutionsOf(FlushKind kind) noexcept {
  switch (kind) {
    case FlushKind::kClwb:
      return ClwbExecutions();
    case FlushKind::kClflushopt:
      return ClflushoptExecutions();
    case FlushKind::kClflush:
      return ClflushExecutions();
  }
  return 0;
}

bool InitCpuDispatch(Dispatch& table, const FlushKind* forced, NtIsa isa) noexcept {
  FlushKind kind = FlushKind::kClflush;
  if (HasClwb()) {
    kind = FlushKind::kClwb;
  } else if (HasClflushopt()) {
    kind = FlushKind::kClflushopt;
  }
  bool honoured = true;
  if (forced != nullptr) {
    if (Available(*forced)) {
      kind = *forced;
    } else {
      honoured = false;
    }
  }
  table.flush_kind.store(kind, std::memory_order_relaxed);
  table.flush.store(FlushFor(kind), std::memory_order_relaxed);
  // AVX before AVX-512: on the AMD EPYC we measure on, 32-byte streaming stores beat 64-byte
  // ones from 64 KiB up (BENCHMARKS.md); AVX-512 stays available through NVRTL_NT=avx512f.
  NtIsa chosen = HasAvx2() ? NtIsa::kAvx : NtIsa::kSse2;
  if (isa != NtIsa::kBest) {
    const bool has = isa == NtIsa::kSse2 || (isa == NtIsa::kAvx && HasAvx2()) ||
                     (isa == NtIsa::kAvx512f && HasAvx512f());
    if (has) {
      chosen = isa;
    } else {
      honoured = false;
    }
  }
  if (chosen == NtIsa::kAvx512f) {
    table.copy_nt.store(CopyNtAvx512f, std::memory_order_relaxed);
    table.fill_nt.store(FillNtAvx512f, std::memory_order_relaxed);
  } else if (chosen == NtIsa::kAvx) {
    table.copy_nt.store(CopyNtAvx, std::memory_order_relaxed);
    table.fill_nt.store(FillNtAvx, std::memory_order_relaxed);
  } else {
    table.copy_nt.store(CopyNtSse2, std::memory_order_relaxed);
    table.fill_nt.store(FillNtSse2, std::memory_order_relaxed);
  }
  return honoured;
}

}  // namespace nvrtl::x86_64
