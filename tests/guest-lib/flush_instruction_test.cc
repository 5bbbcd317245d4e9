// flush_instruction_test.cc -- each flush instruction path runs on this CPU (it has CLWB,
// CLFLUSHOPT and CLFLUSH), forced through the dispatch hook; TearDown checks it was really used.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "dispatch.h"
#include "nvrtl/nvrtl.h"
#include "test_region.h"
#include "x86_64/cpu.h"

namespace {

using nvrtl::FlushKind;

struct KindCase {
  FlushKind kind;
  const char* name;
  ULONG public_value;
};

void PrintTo(const KindCase& c, std::ostream* os) {
  *os << c.name;
}

class FlushInstructionTest : public ::testing::TestWithParam<KindCase> {
 protected:
  void SetUp() override {
    original_ = nvrtl::g_dispatch.flush_kind.load();
    const bool available = GetParam().kind == FlushKind::kClwb ? nvrtl::x86_64::HasClwb()
                           : GetParam().kind == FlushKind::kClflushopt
                               ? nvrtl::x86_64::HasClflushopt()
                               : nvrtl::x86_64::HasClflush();
    if (!available) GTEST_SKIP() << GetParam().name << " not on this CPU";
    nvrtl::SetFlushKindForTesting(GetParam().kind);
    before_ = nvrtl::FlushExecutionsForTesting(GetParam().kind);
  }
  void TearDown() override {
    if (IsSkipped()) return;
    EXPECT_GT(nvrtl::FlushExecutionsForTesting(GetParam().kind), before_)
        << GetParam().name << " was never executed";
    nvrtl::SetFlushKindForTesting(original_);
  }
  FlushKind original_{};
  uint64_t before_ = 0;
};

TEST_P(FlushInstructionTest, FlushWriteAndFillUseTheChosenInstruction) {
  TestRegion region(1 << 20);
  ASSERT_TRUE(region.ok());
  EXPECT_EQ(NvQueryFlushInstruction(), GetParam().public_value);
  std::memset(region.base(), 3, 1 << 20);
  EXPECT_EQ(RtlFlushNonVolatileMemory(region.token(), region.base() + 5, (1 << 20) - 10, 0),
            STATUS_SUCCESS);
  const char data[100] = "persist me";
  EXPECT_EQ(RtlWriteNonVolatileMemory(region.token(), region.base() + 1, data, sizeof data,
                                      WRITE_NV_MEMORY_FLAG_FLUSH),
            STATUS_SUCCESS);
  EXPECT_EQ(RtlFillNonVolatileMemory(region.token(), region.base() + 2007, 1000, 9,
                                     FILL_NV_MEMORY_FLAG_PERSIST),
            STATUS_SUCCESS);
  EXPECT_EQ(std::memcmp(region.base() + 1, data, sizeof data), 0);
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, FlushInstructionTest,
    ::testing::Values(KindCase{FlushKind::kClwb, "Clwb", NV_FLUSH_INSTRUCTION_CLWB},
                      KindCase{FlushKind::kClflushopt, "Clflushopt",
                               NV_FLUSH_INSTRUCTION_CLFLUSHOPT},
                      KindCase{FlushKind::kClflush, "Clflush", NV_FLUSH_INSTRUCTION_CLFLUSH}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(FlushOverrideTest, EnvironmentVariableSelectsTheInstruction) {
  const FlushKind original = nvrtl::g_dispatch.flush_kind.load();
  ASSERT_TRUE(nvrtl::x86_64::HasClflush());
  setenv("NVRTL_FLUSH", "clflush", 1);
  nvrtl::InitDispatch();
  EXPECT_EQ(NvQueryFlushInstruction(), NV_FLUSH_INSTRUCTION_CLFLUSH);
  unsetenv("NVRTL_FLUSH");
  nvrtl::InitDispatch();
  EXPECT_EQ(NvQueryFlushInstruction(), nvrtl::x86_64::HasClwb() ? NV_FLUSH_INSTRUCTION_CLWB
                                       : nvrtl::x86_64::HasClflushopt()
                                           ? NV_FLUSH_INSTRUCTION_CLFLUSHOPT
                                           : NV_FLUSH_INSTRUCTION_CLFLUSH);
  nvrtl::SetFlushKindForTesting(original);
}

TEST(FlushOverrideTest, EadrTokensSkipWriteBackButStillSucceed) {
  setenv("NVRTL_PERSISTENCE", "eadr", 1);
  nvrtl::InitDispatch();
  {
    TestRegion region(1 << 16);
    ASSERT_TRUE(region.ok());
    ULONG domain = 0;
    ASSERT_EQ(NvQueryPersistenceDomain(region.token(), &domain), STATUS_SUCCESS);
    EXPECT_EQ(domain, NV_PERSISTENCE_DOMAIN_CPU_CACHE);
    const FlushKind kind = nvrtl::g_dispatch.flush_kind.load();
    const uint64_t before = nvrtl::FlushExecutionsForTesting(kind);
    EXPECT_EQ(RtlFlushNonVolatileMemory(region.token(), region.base(), 4096, 0), STATUS_SUCCESS);
    EXPECT_EQ(nvrtl::FlushExecutionsForTesting(kind), before);
  }
  unsetenv("NVRTL_PERSISTENCE");
  nvrtl::InitDispatch();
}

}  // namespace
