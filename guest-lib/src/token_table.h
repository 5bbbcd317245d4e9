// token_table.h -- tokens as generation-checked handles into a fixed table of slots.
//
// A token is not a pointer: it encodes a slot index and the slot's generation,
//   token = kTokenTag | generation << 16 | index,
// a non-canonical address that no dereference by a caller can reach. ResolveToken validates a
// token without locks, system calls or allocation (a seqlock read of the slot), so NULL, forged,
// freed and reused tokens all fail cleanly. Slots are never freed (their memory stays valid), so a
// racing Free cannot make a reader touch freed memory. AllocateToken/ReleaseToken take a mutex.
#ifndef NVRTL_SRC_TOKEN_TABLE_H_
#define NVRTL_SRC_TOKEN_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dispatch.h"
#include "nvrtl/nvrtl.h"
#include "verifier.h"

namespace nvrtl {

// TokenView -- what a call needs to know about a live token (a consistent snapshot).
struct TokenView {
  uintptr_t base = 0;
  size_t size = 0;
  PersistenceDomain domain = PersistenceDomain::kMemoryController;
  Verifier* verifier = nullptr;  // nullptr: not verifying this token
  bool is_default = false;       // FLUSH_NV_MEMORY_DEFAULT_TOKEN: any address, no tracking
};

// Maximum number of live tokens.
constexpr uint32_t kMaxTokens = 4096;

// ResolveToken -- true and *view filled for a live token or FLUSH_NV_MEMORY_DEFAULT_TOKEN.
bool ResolveToken(const void* token, TokenView* view) noexcept;

// AllocateToken -- a new token for [base, base+size); with the verifier enabled the token's
// slot gets a (reused) Verifier. STATUS_INSUFFICIENT_RESOURCES when the table is full.
NTSTATUS AllocateToken(uintptr_t base, size_t size, PersistenceDomain domain, void** token);

// ReleaseToken -- invalidates a live token; *findings receives what its verifier (if any) still
// tracks, collected before the slot can be reused.
NTSTATUS ReleaseToken(const void* token, std::vector<Finding>* findings);

}  // namespace nvrtl

#endif  // NVRTL_SRC_TOKEN_TABLE_H_
