// store_completion.h -- CompleteStore: what Write and Fill do once their bytes are stored.
#ifndef NVRTL_SRC_STORE_COMPLETION_H_
#define NVRTL_SRC_STORE_COMPLETION_H_

#include <cstddef>
#include <cstdint>

#include "argument_checks.h"
#include "token_table.h"
#include "verifier.h"
#include "x86_64/flush.h"

namespace nvrtl {

// CompleteStore -- after Write or Fill stored [dst, dst+size) with `flags` (already checked):
// drains (SFENCE) unless flags is 0 or carries NO_DRAIN, tells the token's verifier what was
// stored and from where (`call_site`: the API function's own return address, taken there), and
// returns STATUS_SUCCESS.
inline NTSTATUS CompleteStore(const TokenView& view, const void* dst, size_t size, ULONG flags,
                              void* call_site) noexcept {
  const bool drain = flags != 0 && (flags & kStoreNoDrain) == 0;
  if (drain) x86_64::Sfence();
  if (view.verifier != nullptr) {
    view.verifier->MarkStored(reinterpret_cast<uintptr_t>(dst) - view.base, size, flags != 0, drain,
                              call_site);
  }
  return STATUS_SUCCESS;
}

}  // namespace nvrtl

#endif  // NVRTL_SRC_STORE_COMPLETION_H_
