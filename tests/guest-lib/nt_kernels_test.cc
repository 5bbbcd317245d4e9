// nt_kernels_test.cc -- every non-temporal copy/fill kernel this CPU can run gives memcpy's /
// memset's result for every head/tail alignment, and flushes its partial lines when asked.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "x86_64/cpu.h"
#include "x86_64/flush.h"
#include "x86_64/nt_kernels.h"

namespace {

using nvrtl::CopyNtFn;
using nvrtl::FillNtFn;

struct Kernels {
  const char* name;
  CopyNtFn copy;
  FillNtFn fill;
  bool (*available)();
};

bool Always() {
  return true;
}
bool Avx() {
  return nvrtl::x86_64::HasAvx2();
}
bool Avx512f() {
  return nvrtl::x86_64::HasAvx512f();
}

class NtKernelTest : public ::testing::TestWithParam<Kernels> {};

void PrintTo(const Kernels& k, std::ostream* os) {
  *os << k.name;
}

TEST_P(NtKernelTest, CopyAndFillMatchMemcpyAndMemsetAtEveryAlignment) {
  if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " not on this CPU";
  std::vector<unsigned char> src(5000), dst(5200), want(5200);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 1);
  for (size_t offset : {0, 1, 31, 63, 64}) {
    for (size_t len : {0, 1, 63, 64, 65, 200, 256, 1000, 4931}) {
      SCOPED_TRACE(testing::Message() << "offset=" << offset << " len=" << len);
      std::fill(dst.begin(), dst.end(), 0xEE);
      want = dst;
      std::memcpy(want.data() + offset, src.data() + 3, len);
      GetParam().copy(dst.data() + offset, src.data() + 3, len, nvrtl::x86_64::FlushClwb);
      nvrtl::x86_64::Sfence();
      ASSERT_EQ(dst, want);
      std::memset(want.data() + offset, 0x5C, len);
      GetParam().fill(dst.data() + offset, 0x5C, len, nullptr);
      nvrtl::x86_64::Sfence();
      ASSERT_EQ(dst, want);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllIsas, NtKernelTest,
    ::testing::Values(Kernels{"Sse2", nvrtl::x86_64::CopyNtSse2, nvrtl::x86_64::FillNtSse2, Always},
                      Kernels{"Avx", nvrtl::x86_64::CopyNtAvx, nvrtl::x86_64::FillNtAvx, Avx},
                      Kernels{"Avx512f", nvrtl::x86_64::CopyNtAvx512f, nvrtl::x86_64::FillNtAvx512f,
                              Avx512f}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
