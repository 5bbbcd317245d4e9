// verifier.cc -- Verifier, ReportFindings, NvEnableVerifier, NvSetVerifierCallback,
// NvSetVerifierReportFile.
#include "verifier.h"

#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "last_error.h"

namespace nvrtl {
namespace {

// Process-wide verifier settings: the environment enables them for the whole process, so they
// are global by nature. `g_enabled` is read on Get only; the rest under g_sink_mutex.
std::atomic<bool> g_enabled{false};
std::mutex g_sink_mutex;
NV_VERIFIER_CALLBACK g_callback = nullptr;
void* g_callback_context = nullptr;
FILE* g_report_file = nullptr;

uint64_t ThisThread() {
  return static_cast<uint64_t>(pthread_self());
}

// Describe -- "at <object>+0x<offset>" for a call site, "" without one.
void Describe(void* call_site, char* out, size_t out_size) {
  out[0] = '\0';
  if (call_site == nullptr) return;
  Dl_info info{};
  if (dladdr(call_site, &info) != 0 && info.dli_fname != nullptr && info.dli_fbase != nullptr) {
    const auto offset =
        reinterpret_cast<uintptr_t>(call_site) - reinterpret_cast<uintptr_t>(info.dli_fbase);
    if (info.dli_sname != nullptr && info.dli_saddr != nullptr) {
      (void)std::snprintf(
          out, out_size, " at %s+0x%" PRIxPTR " (%s+0x%" PRIxPTR ")", info.dli_sname,
          reinterpret_cast<uintptr_t>(call_site) - reinterpret_cast<uintptr_t>(info.dli_saddr),
          info.dli_fname, offset);
    } else {
      (void)std::snprintf(out, out_size, " at %s+0x%" PRIxPTR, info.dli_fname, offset);
    }
    return;
  }
  (void)std::snprintf(out, out_size, " at 0x%" PRIxPTR, reinterpret_cast<uintptr_t>(call_site));
}

__attribute__((constructor)) void ConfigureVerifierAtLoad() {
  const char* on = std::getenv("NVRTL_VERIFIER");
  if (on != nullptr && std::strcmp(on, "1") == 0) g_enabled.store(true);
  const char* path = std::getenv("NVRTL_VERIFIER_REPORT");
  if (path != nullptr && *path != '\0') {
    g_report_file = std::fopen(path, "a");
    if (g_report_file == nullptr) {
      (void)std::fprintf(stderr, "nvrtl: cannot open NVRTL_VERIFIER_REPORT=%s: %s\n", path,
                         std::strerror(errno));
    }
  }
}

}  // namespace

bool VerifierEnabledForNewTokens() noexcept {
  return g_enabled.load(std::memory_order_relaxed);
}

void Verifier::Reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  dirty_.clear();
  pending_.clear();
}

void Verifier::SubtractDirty(size_t start, size_t end, std::vector<Pending>* removed,
                             uint64_t thread) {
  auto it = dirty_.lower_bound(start);
  if (it != dirty_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > start) it = prev;
  }
  while (it != dirty_.end() && it->first < end) {
    const size_t s = it->first;
    const Span span = it->second;
    it = dirty_.erase(it);
    const size_t cut_start = std::max(s, start);
    const size_t cut_end = std::min(span.end, end);
    if (removed != nullptr) removed->push_back({thread, cut_start, cut_end, span.call_site});
    if (s < start) dirty_.emplace(s, Span{start, span.call_site});
    if (span.end > end) it = dirty_.emplace(end, Span{span.end, span.call_site}).first;
  }
}

void Verifier::SubtractPending(size_t start, size_t end) {
  std::vector<Pending> kept;
  for (const Pending& p : pending_) {
    if (p.end <= start || p.start >= end) {
      kept.push_back(p);
      continue;
    }
    if (p.start < start) kept.push_back({p.thread, p.start, start, p.call_site});
    if (p.end > end) kept.push_back({p.thread, end, p.end, p.call_site});
  }
  pending_.swap(kept);
}

void Verifier::MarkDirty(size_t offset, size_t length, void* call_site) noexcept {
  // Out of memory loses precision, never throws across the C ABI.
  try {
    if (length == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t end = offset + length;
    SubtractDirty(offset, end, nullptr, 0);
    SubtractPending(offset, end);  // rewritten data is dirty again, whatever was pending
    dirty_.emplace(offset, Span{end, call_site});
  } catch (...) {
  }
}

void Verifier::MarkDurable(size_t offset, size_t length) noexcept {
  // Out of memory loses precision, never throws across the C ABI.
  try {
    if (length == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    SubtractDirty(offset, offset + length, nullptr, 0);
    SubtractPending(offset, offset + length);
  } catch (...) {
  }
}

void Verifier::MarkFlushedNotDrained(size_t offset, size_t length) noexcept {
  // Out of memory loses precision, never throws across the C ABI.
  try {
    if (length == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    SubtractDirty(offset, offset + length, &pending_, ThisThread());
  } catch (...) {
  }
}

void Verifier::MarkStored(size_t offset, size_t length, bool flushed, bool drained,
                          void* call_site) noexcept {
  if (flushed && drained) {
    MarkFlushedAndDrained(offset, length);
    return;
  }
  MarkDirty(offset, length, call_site);
  if (flushed) MarkFlushedNotDrained(offset, length);
}

void Verifier::MarkFlushedAndDrained(size_t offset, size_t length) noexcept {
  // Out of memory loses precision, never throws across the C ABI.
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    if (length != 0) SubtractDirty(offset, offset + length, nullptr, 0);
    const uint64_t self = ThisThread();
    std::erase_if(pending_, [self](const Pending& p) { return p.thread == self; });
  } catch (...) {
  }
}

void Verifier::MarkDrained() noexcept {
  // Out of memory loses precision, never throws across the C ABI.
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t self = ThisThread();
    std::erase_if(pending_, [self](const Pending& p) { return p.thread == self; });
  } catch (...) {
  }
}

std::vector<Finding> Verifier::Findings() const {
  std::vector<Finding> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [start, span] : dirty_)
      all.push_back({start, span.end - start, span.call_site});
    for (const Pending& p : pending_) all.push_back({p.start, p.end - p.start, p.call_site});
  }
  std::sort(all.begin(), all.end(),
            [](const Finding& a, const Finding& b) { return a.offset < b.offset; });
  std::vector<Finding> merged;
  for (const Finding& f : all) {
    if (!merged.empty() && merged.back().offset + merged.back().length >= f.offset) {
      Finding& last = merged.back();
      last.length = std::max(last.offset + last.length, f.offset + f.length) - last.offset;
    } else {
      merged.push_back(f);
    }
  }
  return merged;
}

void ReportFindings(void* token, const std::vector<Finding>& findings) {
  if (findings.empty()) return;
  std::lock_guard<std::mutex> lock(g_sink_mutex);
  for (const Finding& f : findings) {
    char site[512];
    Describe(f.call_site, site, sizeof site);
    (void)std::fprintf(stderr, "nvrtl: unflushed offset=0x%zx length=%zu%s\n", f.offset, f.length,
                       site);
    if (g_report_file != nullptr) {
      (void)std::fprintf(g_report_file,
                         "{\"event\":\"unflushed\",\"token\":\"0x%" PRIxPTR
                         "\",\"offset\":%zu,\"length\":%zu,\"call_site\":\"0x%" PRIxPTR "\"}\n",
                         reinterpret_cast<uintptr_t>(token), f.offset, f.length,
                         reinterpret_cast<uintptr_t>(f.call_site));
      (void)std::fflush(g_report_file);
    }
    if (g_callback != nullptr)
      g_callback(g_callback_context, token, f.offset, f.length, f.call_site);
  }
}

}  // namespace nvrtl

extern "C" NVRTL_API NTSTATUS NvEnableVerifier(int Enable) {
  nvrtl::g_enabled.store(Enable != 0);
  return STATUS_SUCCESS;
}

extern "C" NVRTL_API NTSTATUS NvSetVerifierCallback(NV_VERIFIER_CALLBACK Callback, PVOID Context) {
  std::lock_guard<std::mutex> lock(nvrtl::g_sink_mutex);
  nvrtl::g_callback = Callback;
  nvrtl::g_callback_context = Callback != nullptr ? Context : nullptr;
  return STATUS_SUCCESS;
}

extern "C" NVRTL_API NTSTATUS NvSetVerifierReportFile(const char* Path) {
  std::lock_guard<std::mutex> lock(nvrtl::g_sink_mutex);
  if (nvrtl::g_report_file != nullptr) {
    (void)std::fclose(nvrtl::g_report_file);
    nvrtl::g_report_file = nullptr;
  }
  if (Path == nullptr) return STATUS_SUCCESS;
  nvrtl::g_report_file = std::fopen(Path, "a");
  if (nvrtl::g_report_file == nullptr) {
    return nvrtl::FailFormatted(STATUS_ACCESS_DENIED, "cannot open verifier report file %s: %s",
                                Path, std::strerror(errno));
  }
  return STATUS_SUCCESS;
}
