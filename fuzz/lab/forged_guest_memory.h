// File: fuzz/lab/forged_guest_memory.h
//
// ForgedGuestMemory is guest-physical memory made of fuzz input, for the targets over the
// plugin's readers of guest memory (page walk, current task): the guest writes its page tables
// and kernel data as it likes, so any bytes are valid memory. The input's bytes repeat across
// the first kBackedBytes of physical memory (so that tables at any address a small input names
// hold input bytes); above that, memory is unbacked (Read64 is false). Reads must be 8-byte
// aligned, as PhysicalMemoryReader's contract says: an unaligned read aborts (a caller's bug).
//
// Life cycle: made per input over bytes the caller keeps alive. Thread-safety: const reads.

#ifndef NVLAB_FUZZ_FORGED_GUEST_MEMORY_H_
#define NVLAB_FUZZ_FORGED_GUEST_MEMORY_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "page_walk.h"

namespace nvlab::fuzz {

class ForgedGuestMemory : public plugin::PhysicalMemoryReader {
 public:
  static constexpr uint64_t kBackedBytes = 1ull << 36;  // 64 GiB: RAM and NVDIMMs of a guest

  explicit ForgedGuestMemory(std::string_view bytes) : bytes_(bytes) {}

  bool Read64(uint64_t gpa, uint64_t* value) const override {
    if (gpa % 8 != 0) {
      (void)std::fprintf(stderr, "unaligned Read64(0x%llx)\n",
                         static_cast<unsigned long long>(gpa));
      std::abort();
    }
    if (gpa >= kBackedBytes) return false;
    *value = 0;
    if (bytes_.empty()) return true;
    auto* out = reinterpret_cast<unsigned char*>(value);
    for (size_t i = 0; i < 8; ++i)
      out[i] = static_cast<unsigned char>(bytes_[(gpa + i) % bytes_.size()]);
    return true;
  }

 private:
  std::string_view bytes_;
};

// TakeWord removes the next 8 bytes of *input (little endian; zeros past its end).
inline uint64_t TakeWord(std::string_view* input) {
  uint64_t value = 0;
  const size_t n = input->size() < 8 ? input->size() : 8;
  std::memcpy(&value, input->data(), n);
  input->remove_prefix(n);
  return value;
}

}  // namespace nvlab::fuzz

#endif  // NVLAB_FUZZ_FORGED_GUEST_MEMORY_H_
