// The litmus table of persistence-model.md, run on the model alone: each case is a sequence of
// guest events followed by a power cut with the lose policy, on ADR and on eADR, and states
// what the media must hold at A (and B) afterwards.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nvlab/model/persistence_domain.h"

namespace nvlab::model {
namespace {

constexpr uint64_t kBase = 0x100000000;  // NVDIMM 0 with 512M of guest RAM (platform.md).
constexpr uint64_t kSize = 1 << 20;
constexpr uint64_t kA = kBase + 0x1040;
constexpr uint64_t kB = kBase + 0x2080;  // Another line (another page, too).

// Events a case uses, in guest words: one 8-byte value stored at an address.
void StoreValue(PersistenceDomain& d, unsigned cpu, uint64_t addr, uint64_t value) {
  d.Store(cpu, addr, sizeof value, reinterpret_cast<const uint8_t*>(&value));
}
void Movnti(PersistenceDomain& d, unsigned cpu, uint64_t addr, uint64_t value) {
  d.NtStore(cpu, addr, sizeof value, reinterpret_cast<const uint8_t*>(&value));
}
uint64_t MediaValue(const PersistenceDomain& d, uint64_t addr) {
  uint64_t value = 0;
  std::memcpy(&value, d.nvdimm(0).media() + (addr - kBase), sizeof value);
  return value;
}

struct LitmusCase {
  std::string name;
  std::function<void(PersistenceDomain&)> events;
  uint64_t adr_a;   // What A holds after the cut on ADR (0: the store was lost).
  uint64_t eadr_a;  // ... on eADR.
  uint64_t adr_b = 0;
  uint64_t eadr_b = 0;
};

std::vector<LitmusCase> LitmusTable() {
  return {
      {"Store", [](PersistenceDomain& d) { StoreValue(d, 0, kA, 1); }, 0, 1},
      {"StoreClwb",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.FlushOpt(0, kA);
       },
       0, 1},
      {"StoreClwbSfence",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.FlushOpt(0, kA);
         d.Fence(0);
       },
       1, 1},
      {"StoreClflush",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.Clflush(0, kA);
       },
       1, 1},
      {"StoreClflushoptMfence",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.FlushOpt(0, kA + 7);  // Any address within the line.
         d.Fence(0);
       },
       1, 1},
      {"StoreClwbLockedAddToStack",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.FlushOpt(0, kA);
         d.Fence(0);  // A locked instruction is a fence, whatever (DRAM) address it touches.
       },
       1, 1},
      {"StoreClwbOnCpu0SfenceOnCpu1Only",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.FlushOpt(0, kA);
         d.Fence(1);
       },
       0, 1},
      {"StoreOneClwbStoreTwoSfence",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.FlushOpt(0, kA);
         StoreValue(d, 0, kA, 2);
         d.Fence(0);
       },
       1, 2},
      {"Movnti", [](PersistenceDomain& d) { Movnti(d, 0, kA, 1); }, 0, 0},
      {"MovntiSfence",
       [](PersistenceDomain& d) {
         Movnti(d, 0, kA, 1);
         d.Fence(0);
       },
       1, 1},
      {"MovntiOnCpu0SfenceOnCpu1Only",
       [](PersistenceDomain& d) {
         Movnti(d, 0, kA, 1);
         d.Fence(1);
       },
       0, 0},
      {"StoreAStoreBClwbASfence",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         StoreValue(d, 0, kB, 1);
         d.FlushOpt(0, kA);
         d.Fence(0);
       },
       1, 1, 0, 1},
      {"StoreWbinvd",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         StoreValue(d, 1, kB, 1);
         d.Wbinvd(0);
       },
       1, 1, 1, 1},
      {"ClwbOnCpu0OlderThanClflushOnCpu1DoesNotOverwriteIt",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.FlushOpt(0, kA);
         StoreValue(d, 1, kA, 2);
         d.Clflush(1, kA);
         d.Fence(0);
       },
       2, 2},
      {"ClwbOnTwoCpusEachFenceLandsItsOwnSnapshot",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.FlushOpt(0, kA);
         StoreValue(d, 1, kA, 2);
         d.FlushOpt(1, kA);
         d.Fence(0);
       },
       1, 2},
      {"FenceBeforeFlushOrdersNothing",
       [](PersistenceDomain& d) {
         StoreValue(d, 0, kA, 1);
         d.Fence(0);
         d.FlushOpt(0, kA);
       },
       0, 1},
  };
}

struct LitmusParam {
  LitmusCase litmus;
  Platform platform;
};

class LitmusTest : public ::testing::TestWithParam<LitmusParam> {};

TEST_P(LitmusTest, MediaHoldsWhatThePlatformGuarantees) {
  const LitmusParam& param = GetParam();
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  param.litmus.events(domain);
  domain.PowerCut(param.platform, CutPolicy::Lose(), 100);
  bool adr = param.platform == Platform::kAdr;
  EXPECT_EQ(MediaValue(domain, kA), adr ? param.litmus.adr_a : param.litmus.eadr_a);
  EXPECT_EQ(MediaValue(domain, kB), adr ? param.litmus.adr_b : param.litmus.eadr_b);
}

TEST_P(LitmusTest, KeepPolicyLeavesWhatTheCpusSaw) {
  const LitmusParam& param = GetParam();
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  param.litmus.events(domain);
  std::vector<uint8_t> seen(domain.nvdimm(0).view(), domain.nvdimm(0).view() + kSize);
  PowerCutReport report = domain.PowerCut(param.platform, CutPolicy::Keep(), 100);
  EXPECT_EQ(report.lost_lines, 0u);
  EXPECT_EQ(std::memcmp(domain.nvdimm(0).media(), seen.data(), kSize), 0);
}

TEST_P(LitmusTest, RandomWithProbabilityZeroEqualsLose) {
  const LitmusParam& param = GetParam();
  PersistenceDomain lose;
  PersistenceDomain random;
  ASSERT_EQ(lose.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  ASSERT_EQ(random.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  param.litmus.events(lose);
  param.litmus.events(random);
  lose.PowerCut(param.platform, CutPolicy::Lose(), 0);
  random.PowerCut(param.platform, CutPolicy::Random(5, 0.0), 0);
  EXPECT_EQ(std::memcmp(lose.nvdimm(0).media(), random.nvdimm(0).media(), kSize), 0);
}

TEST_P(LitmusTest, RandomWithProbabilityOneEqualsKeep) {
  const LitmusParam& param = GetParam();
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  param.litmus.events(domain);
  std::vector<uint8_t> seen(domain.nvdimm(0).view(), domain.nvdimm(0).view() + kSize);
  domain.PowerCut(param.platform, CutPolicy::Random(5, 1.0), 0);
  EXPECT_EQ(std::memcmp(domain.nvdimm(0).media(), seen.data(), kSize), 0);
}

std::vector<LitmusParam> AllLitmusParams() {
  std::vector<LitmusParam> params;
  for (const LitmusCase& litmus : LitmusTable()) {
    params.push_back({litmus, Platform::kAdr});
    params.push_back({litmus, Platform::kEadr});
  }
  return params;
}

INSTANTIATE_TEST_SUITE_P(Table, LitmusTest, ::testing::ValuesIn(AllLitmusParams()),
                         [](const ::testing::TestParamInfo<LitmusParam>& info) {
                           return info.param.litmus.name +
                                  (info.param.platform == Platform::kAdr ? "OnAdr" : "OnEadr");
                         });

}  // namespace
}  // namespace nvlab::model
