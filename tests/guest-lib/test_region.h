// test_region.h -- a registered stand-in for NV memory, shared by the guest-lib tests.
//
// TestRegion maps anonymous memory (page-aligned, so cache-line offsets are known), registers
// it with NvRegisterNonVolatileRange and takes a token for all of it; the destructor undoes
// each step. Not thread-safe to construct; the token may be used from any thread.
#ifndef NVRTL_TESTS_TEST_REGION_H_
#define NVRTL_TESTS_TEST_REGION_H_

#include <sys/mman.h>

#include <cstddef>

#include "nvrtl/nvrtl.h"

class TestRegion {
 public:
  explicit TestRegion(size_t size) : size_(size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<unsigned char*>(p);
    if (base_ != nullptr && NT_SUCCESS(NvRegisterNonVolatileRange(base_, size))) {
      registered_ = true;
      if (!NT_SUCCESS(RtlGetNonVolatileToken(base_, size, &token_))) token_ = nullptr;
    }
  }
  ~TestRegion() {
    if (token_ != nullptr) RtlFreeNonVolatileToken(token_);
    if (registered_) NvUnregisterNonVolatileRange(base_);
    if (base_ != nullptr) munmap(base_, size_);
  }
  TestRegion(const TestRegion&) = delete;
  TestRegion& operator=(const TestRegion&) = delete;

  bool ok() const { return token_ != nullptr; }
  unsigned char* base() const { return base_; }
  size_t size() const { return size_; }
  PVOID token() const { return token_; }
  // Release -- frees the token now (verifier tests read the report), returning the status.
  NTSTATUS Release() {
    const NTSTATUS s = RtlFreeNonVolatileToken(token_);
    token_ = nullptr;
    return s;
  }

 private:
  size_t size_;
  unsigned char* base_ = nullptr;
  bool registered_ = false;
  PVOID token_ = nullptr;
};

#endif  // NVRTL_TESTS_TEST_REGION_H_
