// token_table.cc -- ResolveToken, AllocateToken, ReleaseToken.
#include "token_table.h"

#include <atomic>
#include <mutex>
#include <new>

#include "last_error.h"

namespace nvrtl {
namespace {

constexpr uintptr_t kTokenTag = uintptr_t{0x4E56} << 48;  // "NV" in the top bits
constexpr uintptr_t kIndexMask = 0xFFFF;

// One slot. `state` is (generation << 1) | live; the other fields are written only while the
// slot is not live, and published by the release store of `state`.
struct alignas(64) Slot {
  std::atomic<uint64_t> state{0};
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> size{0};
  std::atomic<uint8_t> domain{1};
  std::atomic<bool> verifying{false};
  std::atomic<Verifier*> verifier{nullptr};  // allocated once per slot, never freed
};

// The table is process-wide by nature: a token is valid in every thread of the process.
Slot g_slots[kMaxTokens];
std::mutex g_alloc_mutex;          // serialises AllocateToken/ReleaseToken
uint32_t g_next_unused = 0;        // slots never used yet start here
uint32_t g_free_list[kMaxTokens];  // indices of released slots
uint32_t g_free_count = 0;

inline uintptr_t Encode(uint32_t index, uint32_t generation) {
  return kTokenTag | (uintptr_t{generation} << 16) | index;
}

}  // namespace

bool ResolveToken(const void* token, TokenView* view) noexcept {
  const auto value = reinterpret_cast<uintptr_t>(token);
  if (value == FLUSH_NV_MEMORY_DEFAULT_TOKEN) {
    *view = TokenView{};
    view->is_default = true;
    const uint8_t forced = g_dispatch.persistence_override.load(std::memory_order_relaxed);
    if (forced != 0) view->domain = static_cast<PersistenceDomain>(forced);
    return true;
  }
  if ((value & (uintptr_t{0xFFFF} << 48)) != kTokenTag) return false;
  const uint32_t index = static_cast<uint32_t>(value & kIndexMask);
  if (index >= kMaxTokens) return false;
  const auto generation = static_cast<uint32_t>(value >> 16);
  Slot& slot = g_slots[index];
  const uint64_t before = slot.state.load(std::memory_order_acquire);
  if ((before & 1) == 0 || static_cast<uint32_t>(before >> 1) != generation) return false;
  view->base = slot.base.load(std::memory_order_relaxed);
  view->size = slot.size.load(std::memory_order_relaxed);
  view->domain = static_cast<PersistenceDomain>(slot.domain.load(std::memory_order_relaxed));
  view->verifier = slot.verifying.load(std::memory_order_relaxed)
                       ? slot.verifier.load(std::memory_order_relaxed)
                       : nullptr;
  view->is_default = false;
  std::atomic_thread_fence(std::memory_order_acquire);
  return slot.state.load(std::memory_order_relaxed) == before;
}

NTSTATUS AllocateToken(uintptr_t base, size_t size, PersistenceDomain domain, void** token) {
  const bool verify = VerifierEnabledForNewTokens();
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  uint32_t index = 0;
  if (g_free_count > 0) {
    index = g_free_list[--g_free_count];
  } else if (g_next_unused < kMaxTokens) {
    index = g_next_unused++;
  } else {
    return Fail(STATUS_INSUFFICIENT_RESOURCES, "all 4096 tokens are in use");
  }
  Slot& slot = g_slots[index];
  if (verify && slot.verifier.load(std::memory_order_relaxed) == nullptr) {
    auto* verifier = new (std::nothrow) Verifier();
    if (verifier == nullptr) {
      g_free_list[g_free_count++] = index;
      return Fail(STATUS_INSUFFICIENT_RESOURCES, "out of memory for the verifier's state");
    }
    slot.verifier.store(verifier, std::memory_order_relaxed);
  }
  if (verify) slot.verifier.load(std::memory_order_relaxed)->Reset();
  const uint64_t old_state = slot.state.load(std::memory_order_relaxed);
  const auto generation = static_cast<uint32_t>((old_state >> 1) + 1);
  slot.base.store(base, std::memory_order_relaxed);
  slot.size.store(size, std::memory_order_relaxed);
  slot.domain.store(static_cast<uint8_t>(domain), std::memory_order_relaxed);
  slot.verifying.store(verify, std::memory_order_relaxed);
  slot.state.store((uint64_t{generation} << 1) | 1, std::memory_order_release);
  // A token is a number shaped like a (non-canonical) pointer, never dereferenced.
  *token = reinterpret_cast<void*>(Encode(index, generation));  // NOLINT(performance-no-int-to-ptr)
  return STATUS_SUCCESS;
}

NTSTATUS ReleaseToken(const void* token, std::vector<Finding>* findings) {
  const auto value = reinterpret_cast<uintptr_t>(token);
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  TokenView view;
  if (token == nullptr) return Fail(STATUS_INVALID_PARAMETER, "NvToken is NULL");
  if (value == FLUSH_NV_MEMORY_DEFAULT_TOKEN) {
    return Fail(STATUS_INVALID_PARAMETER, "FLUSH_NV_MEMORY_DEFAULT_TOKEN cannot be freed");
  }
  if (!ResolveToken(token, &view)) {
    return Fail(STATUS_INVALID_PARAMETER, "NvToken is not a live token (forged or freed)");
  }
  if (view.verifier != nullptr) {
    try {
      *findings = view.verifier->Findings();
    } catch (const std::bad_alloc&) {
      findings->clear();  // out of memory: release anyway, without a report
    }
  }
  const uint32_t index = static_cast<uint32_t>(value & kIndexMask);
  Slot& slot = g_slots[index];
  const uint64_t state = slot.state.load(std::memory_order_relaxed);
  slot.state.store(state & ~uint64_t{1}, std::memory_order_release);
  g_free_list[g_free_count++] = index;
  return STATUS_SUCCESS;
}

}  // namespace nvrtl
