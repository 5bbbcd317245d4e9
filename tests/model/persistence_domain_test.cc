// Tests of PersistenceDomain beyond the litmus table: the cut report, the random policy's
// reproducibility, several NVDIMMs, sub-line granularity, the external-view mode the plugin
// uses, and addresses a guest may throw at it.
#include "nvlab/model/persistence_domain.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace nvlab::model {
namespace {

constexpr uint64_t kBase = 0x100000000;
constexpr uint64_t kSize = 1 << 16;

void StoreValue(PersistenceDomain& d, unsigned cpu, uint64_t addr, uint64_t value,
                const StoreSite* site = nullptr) {
  d.Store(cpu, addr, sizeof value, reinterpret_cast<const uint8_t*>(&value), site);
}
uint64_t MediaValue(const PersistenceDomain& d, size_t nvdimm, uint64_t offset) {
  uint64_t value = 0;
  std::memcpy(&value, d.nvdimm(nvdimm).media() + offset, sizeof value);
  return value;
}

class PersistenceDomainTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(domain_.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk); }
  PersistenceDomain domain_;
};

TEST_F(PersistenceDomainTest, ReportListsEachLostLineWithItsReason) {
  StoreSite site{0x401000, 0x7000};
  StoreValue(domain_, 0, kBase + 0x00, 1, &site);  // dirty
  StoreValue(domain_, 0, kBase + 0x40, 2);         // flush-pending
  domain_.FlushOpt(0, kBase + 0x40);
  uint64_t nt = 3;
  domain_.NtStore(1, kBase + 0x80, 8, reinterpret_cast<const uint8_t*>(&nt));  // wc-buffer
  StoreValue(domain_, 0, kBase + 0xc0, 4);                                     // flushed: not lost
  domain_.Clflush(0, kBase + 0xc0);

  PowerCutReport report = domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  ASSERT_EQ(report.lost_lines, 3u);
  ASSERT_EQ(report.lost.size(), 3u);
  EXPECT_EQ(report.lost[0].gpa, kBase);
  EXPECT_EQ(report.lost[0].offset, 0u);
  EXPECT_EQ(report.lost[0].nvdimm, 0u);
  EXPECT_EQ(report.lost[0].state, LineState::kDirty);
  EXPECT_TRUE(report.lost[0].site_known);
  EXPECT_EQ(report.lost[0].last_store.pc, 0x401000u);
  EXPECT_EQ(report.lost[0].last_store.cr3, 0x7000u);
  EXPECT_EQ(report.lost[1].state, LineState::kFlushPending);
  EXPECT_FALSE(report.lost[1].site_known);
  EXPECT_EQ(report.lost[2].state, LineState::kWcBuffer);
  EXPECT_EQ(report.lost_dirty, 1u);
  EXPECT_EQ(report.lost_flush_pending, 1u);
  EXPECT_EQ(report.lost_wc_buffer, 1u);
  EXPECT_EQ(MediaValue(domain_, 0, 0xc0), 4u);
}

TEST_F(PersistenceDomainTest, ReportCapsTheListButCountsEveryLine) {
  for (uint64_t i = 0; i < 50; ++i) StoreValue(domain_, 0, kBase + i * kLineSize, i + 1);
  PowerCutReport report = domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 8);
  EXPECT_EQ(report.lost_lines, 50u);
  EXPECT_EQ(report.lost.size(), 8u);
}

TEST_F(PersistenceDomainTest, EadrLosesOnlyUnfencedNonTemporalStores) {
  StoreValue(domain_, 0, kBase, 1);
  uint64_t nt = 2;
  domain_.NtStore(0, kBase + 0x100, 8, reinterpret_cast<const uint8_t*>(&nt));
  PowerCutReport report = domain_.PowerCut(Platform::kEadr, CutPolicy::Lose(), 10);
  ASSERT_EQ(report.lost_lines, 1u);
  EXPECT_EQ(report.lost[0].state, LineState::kWcBuffer);
  EXPECT_EQ(MediaValue(domain_, 0, 0), 1u);
  EXPECT_EQ(MediaValue(domain_, 0, 0x100), 0u);
}

TEST_F(PersistenceDomainTest, WriteSurvivorsToViewRewritesOnlyLostLines) {
  StoreValue(domain_, 0, kBase, 1);
  StoreValue(domain_, 0, kBase + 0x40, 2);
  domain_.Clflush(0, kBase + 0x40);
  domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(domain_.WriteSurvivorsToView(), 1u);
  EXPECT_EQ(std::memcmp(domain_.nvdimm(0).view(), domain_.nvdimm(0).media(), kSize), 0);
  EXPECT_EQ(domain_.WriteSurvivorsToView(), 0u);
}

TEST_F(PersistenceDomainTest, CutEmptiesPendingWork) {
  StoreValue(domain_, 0, kBase, 1);
  domain_.FlushOpt(0, kBase);
  EXPECT_TRUE(domain_.HasPendingWork(0));
  domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_FALSE(domain_.HasPendingWork(0));
  EXPECT_EQ(domain_.Fence(0), 0u);
}

TEST_F(PersistenceDomainTest, CountersSeparateOrderingFencesFromOthers) {
  domain_.Fence(0);
  StoreValue(domain_, 0, kBase, 1);
  domain_.FlushOpt(0, kBase);
  EXPECT_EQ(domain_.Fence(0), 1u);
  EXPECT_EQ(domain_.counters().fences, 2u);
  EXPECT_EQ(domain_.counters().ordering_fences, 1u);
  EXPECT_EQ(domain_.counters().stores, 1u);
  EXPECT_EQ(domain_.counters().flushes, 1u);
}

// Sub-line granularity: the unit of a write-back is the 64-byte line, the unit of a store is
// whatever it wrote; a store straddling two lines is persisted line by line.
TEST_F(PersistenceDomainTest, EightByteWordsOfOneLineAreFlushedTogether) {
  StoreValue(domain_, 0, kBase + 0x00, 0x1111);
  StoreValue(domain_, 0, kBase + 0x08, 0x2222);
  StoreValue(domain_, 0, kBase + 0x38, 0x3333);
  domain_.FlushOpt(0, kBase + 0x10);
  domain_.Fence(0);
  domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(MediaValue(domain_, 0, 0x00), 0x1111u);
  EXPECT_EQ(MediaValue(domain_, 0, 0x08), 0x2222u);
  EXPECT_EQ(MediaValue(domain_, 0, 0x38), 0x3333u);
}

TEST_F(PersistenceDomainTest, StoreStraddlingTwoLinesPersistsOnlyTheFlushedHalf) {
  StoreValue(domain_, 0, kBase + 0x3c, 0x8877665544332211ULL);  // Bytes 0x3c..0x43.
  domain_.FlushOpt(0, kBase);                                   // First line only.
  domain_.Fence(0);
  PowerCutReport report = domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(MediaValue(domain_, 0, 0x38), 0x4433221100000000ULL);
  EXPECT_EQ(MediaValue(domain_, 0, 0x40), 0u);
  ASSERT_EQ(report.lost_lines, 1u);
  EXPECT_EQ(report.lost[0].offset, 0x40u);
}

TEST_F(PersistenceDomainTest, NonTemporalBytesDoNotRideOnAFlushOfTheirLine) {
  StoreValue(domain_, 0, kBase, 1);
  uint64_t nt = 2;
  domain_.NtStore(0, kBase + 8, 8, reinterpret_cast<const uint8_t*>(&nt));
  domain_.Clflush(1, kBase);  // Writes back the cached bytes, not cpu 0's WC buffer.
  domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(MediaValue(domain_, 0, 0), 1u);
  EXPECT_EQ(MediaValue(domain_, 0, 8), 0u);
}

TEST_F(PersistenceDomainTest, WbinvdMakesOlderPendingSnapshotsStale) {
  StoreValue(domain_, 1, kBase, 1);
  domain_.FlushOpt(1, kBase);
  StoreValue(domain_, 0, kBase, 2);
  domain_.Wbinvd(0);
  domain_.Fence(1);
  domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(MediaValue(domain_, 0, 0), 2u);
}

// The random policy: each undetermined write-back lands with probability p, reproducibly.
class RandomPolicyTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kLines = 1000;
  // Fills every line with a dirty store; every other line also gets a pending CLWB.
  static void Workload(PersistenceDomain& d) {
    for (uint64_t i = 0; i < kLines; ++i) {
      StoreValue(d, 0, kBase + i * kLineSize, i + 1);
      if (i % 2 == 0) d.FlushOpt(0, kBase + i * kLineSize);
    }
  }
  static std::vector<uint8_t> CutWith(uint64_t seed, double p, PowerCutReport* report = nullptr) {
    PersistenceDomain d;
    EXPECT_EQ(d.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
    Workload(d);
    PowerCutReport r = d.PowerCut(Platform::kAdr, CutPolicy::Random(seed, p), 0);
    if (report) *report = r;
    return {d.nvdimm(0).media(), d.nvdimm(0).media() + kSize};
  }
};

TEST_F(RandomPolicyTest, SameSeedGivesSameImage) {
  EXPECT_EQ(CutWith(17, 0.5), CutWith(17, 0.5));
}

TEST_F(RandomPolicyTest, DifferentSeedGivesDifferentImage) {
  EXPECT_NE(CutWith(17, 0.5), CutWith(18, 0.5));
}

TEST_F(RandomPolicyTest, HalfProbabilityKeepsRoughlyHalfTheLines) {
  PowerCutReport report;
  CutWith(3, 0.5, &report);
  // A line is lost when neither its cache copy nor (for even lines) its snapshot landed:
  // expected 0.5 * 500 + 0.25 * 500 = 375 of 1000.
  EXPECT_GT(report.lost_lines, 300u);
  EXPECT_LT(report.lost_lines, 450u);
}

TEST_F(RandomPolicyTest, ProbabilityZeroLosesEveryLineAndOneKeepsEvery) {
  PowerCutReport none;
  PowerCutReport all;
  CutWith(3, 0.0, &none);
  CutWith(3, 1.0, &all);
  EXPECT_EQ(none.lost_lines, kLines);
  EXPECT_EQ(all.lost_lines, 0u);
}

TEST_F(RandomPolicyTest, SurvivingLinesHoldEitherTheOldOrTheNewValueWhole) {
  std::vector<uint8_t> image = CutWith(11, 0.5);
  for (uint64_t i = 0; i < kLines; ++i) {
    uint64_t value = 0;
    std::memcpy(&value, image.data() + i * kLineSize, sizeof value);
    EXPECT_TRUE(value == 0 || value == i + 1) << "line " << i;
  }
}

// Several NVDIMMs: each its own range, indexes in AddNvdimm order.
TEST(SeveralNvdimmsTest, EventsReachTheRightNvdimmAndTheReportNamesIt) {
  PersistenceDomain domain;
  constexpr uint64_t kSecond = kBase + 0x40000000;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  ASSERT_EQ(domain.AddNvdimm(kSecond, kSize, nullptr), ModelStatus::kOk);
  StoreValue(domain, 0, kBase + 0x80, 1);
  StoreValue(domain, 1, kSecond + 0x80, 2);
  StoreValue(domain, 1, kSecond + 0xc0, 3);
  domain.FlushOpt(1, kSecond + 0x80);
  domain.Fence(1);
  PowerCutReport report = domain.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(MediaValue(domain, 0, 0x80), 0u);
  EXPECT_EQ(MediaValue(domain, 1, 0x80), 2u);
  EXPECT_EQ(MediaValue(domain, 1, 0xc0), 0u);
  ASSERT_EQ(report.lost.size(), 2u);
  EXPECT_EQ(report.lost[0].nvdimm, 0u);
  EXPECT_EQ(report.lost[1].nvdimm, 1u);
  EXPECT_EQ(report.lost[1].offset, 0xc0u);
  EXPECT_EQ(report.lost[1].gpa, kSecond + 0xc0);
}

TEST(SeveralNvdimmsTest, RejectsOverlappingUnalignedAndEmptyRanges) {
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  EXPECT_EQ(domain.AddNvdimm(kBase + kSize - 64, kSize, nullptr), ModelStatus::kOverlap);
  EXPECT_EQ(domain.AddNvdimm(kBase - 64, 128, nullptr), ModelStatus::kOverlap);
  EXPECT_EQ(domain.AddNvdimm(kBase + kSize + 8, kSize, nullptr), ModelStatus::kInvalidArgument);
  EXPECT_EQ(domain.AddNvdimm(kBase + kSize, 100, nullptr), ModelStatus::kInvalidArgument);
  EXPECT_EQ(domain.AddNvdimm(kBase + kSize, 0, nullptr), ModelStatus::kInvalidArgument);
  EXPECT_EQ(domain.AddNvdimm(~uint64_t{0} - 63, 128, nullptr), ModelStatus::kInvalidArgument);
  EXPECT_EQ(domain.nvdimm_count(), 1u);
}

// Bounds: a guest may store anywhere; the model clips or ignores, never writes outside.
TEST_F(PersistenceDomainTest, StoreCrossingTheNvdimmEndIsClipped) {
  std::vector<uint8_t> bytes(32, 0xab);
  domain_.Store(0, kBase + kSize - 16, bytes.size(), bytes.data());
  domain_.Wbinvd(0);
  domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  for (uint64_t i = kSize - 16; i < kSize; ++i) EXPECT_EQ(domain_.nvdimm(0).media()[i], 0xab);
  EXPECT_EQ(domain_.counters().stores, 1u);
}

TEST_F(PersistenceDomainTest, StoreStartingBelowTheNvdimmIsClippedToIt) {
  std::vector<uint8_t> bytes(32, 0xcd);
  domain_.Store(0, kBase - 16, bytes.size(), bytes.data());
  domain_.Clflush(0, kBase);
  domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(domain_.nvdimm(0).media()[15], 0xcd);
  EXPECT_EQ(domain_.nvdimm(0).media()[16], 0);
}

TEST_F(PersistenceDomainTest, EventsOutsideEveryNvdimmAreIgnoredAndCounted) {
  uint64_t value = 5;
  const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
  domain_.Store(0, 0x1000, 8, bytes);
  domain_.Store(0, kBase + kSize, 8, bytes);
  domain_.Store(0, ~uint64_t{0} - 3, 8, bytes);  // Would wrap around the address space.
  domain_.Store(0, 0, ~uint64_t{0}, nullptr);    // Huge: covers the NVDIMM, no bytes given.
  domain_.NtStore(0, 0x2000, 8, bytes);
  domain_.Clflush(0, 0x3000);
  domain_.FlushOpt(0, kBase + kSize);
  domain_.Store(PersistenceDomain::kMaxCpus, kBase, 8, bytes);  // No such CPU.
  domain_.Fence(PersistenceDomain::kMaxCpus + 5);
  EXPECT_EQ(domain_.counters().ignored_events, 8u);
  EXPECT_EQ(domain_.counters().stores, 1u);
  PowerCutReport report = domain_.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(report.lost_lines, 0u);
}

TEST_F(PersistenceDomainTest, NtStoreWithoutBytesIsIgnored) {
  domain_.NtStore(0, kBase, 8, nullptr);
  EXPECT_EQ(domain_.counters().ignored_events, 1u);
  EXPECT_FALSE(domain_.HasPendingWork(0));
}

// The plugin's mode: the view is memory someone else writes (QEMU, through the shared file).
TEST(ExternalViewTest, StoresSeenOnlyInTheViewAreLostUnlessFlushedAndRestoredByWriteBack) {
  std::vector<uint8_t> file(kSize, 0x5a);  // Content from before the machine started.
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, file.data()), ModelStatus::kOk);
  file[0x100] = 1;  // The guest stores, unseen by the model.
  file[0x200] = 2;
  StoreSite site{0xffffffff81000000ULL, 0x1000};
  domain.Store(0, kBase + 0x200, 1, nullptr, &site);  // Recorded site only.
  domain.FlushOpt(0, kBase + 0x100);
  domain.Fence(0);
  PowerCutReport report = domain.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  ASSERT_EQ(report.lost_lines, 1u);
  EXPECT_EQ(report.lost[0].offset, 0x200u);
  EXPECT_TRUE(report.lost[0].site_known);
  EXPECT_EQ(report.lost[0].last_store.pc, 0xffffffff81000000ULL);
  EXPECT_EQ(domain.WriteSurvivorsToView(), 1u);
  EXPECT_EQ(file[0x100], 1);
  EXPECT_EQ(file[0x200], 0x5a);
}

TEST(CandidateRangesTest, AreWidenedToLinesMergedAndClipped) {
  NvdimmRegion region(kBase, 4096, nullptr);
  EXPECT_EQ(region.CandidateLineRanges(), (ByteRanges{{0, 4096}}));
  region.set_candidate_ranges([] { return ByteRanges{{3000, 9000}, {70, 100}, {100, 130}}; });
  EXPECT_EQ(region.CandidateLineRanges(), (ByteRanges{{64, 192}, {2944, 4096}}));
}

// A caller's hint says where view and media may differ: the cut looks only there.
TEST(CandidateRangesTest, CutScansOnlyTheCandidateRanges) {
  std::vector<uint8_t> file(kSize, 0);
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, file.data(), MediaStart::kZeroes), ModelStatus::kOk);
  file[0x1000] = 1;
  file[0x8000] = 2;
  domain.nvdimm(0).set_candidate_ranges([] { return ByteRanges{{0x1000, 0x2000}}; });
  PowerCutReport report = domain.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  ASSERT_EQ(report.lost_lines, 1u);
  EXPECT_EQ(report.lost[0].offset, 0x1000u);
}

// Right after a cut the rewrite looks only at the lines the cut decided: the candidate ranges
// (the plugin: a scan of the backing file) are not asked again, and what it rewrites is the same.
TEST(CandidateRangesTest, RewriteAfterACutReusesTheCutsLines) {
  std::vector<uint8_t> file(kSize, 0);
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, file.data(), MediaStart::kZeroes), ModelStatus::kOk);
  int asked = 0;
  domain.nvdimm(0).set_candidate_ranges([&asked] {
    ++asked;
    return ByteRanges{{0, kSize}};
  });
  file[0x1000] = 1;  // Dirty, lost.
  file[0x2000] = 2;  // Flushed and fenced: durable.
  file[0x3000] = 3;  // Flush pending at the cut: lost under lose.
  domain.FlushOpt(0, kBase + 0x2000);
  domain.Fence(0);
  domain.FlushOpt(1, kBase + 0x3000);
  PowerCutReport report = domain.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(report.lost_lines, 2u);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(domain.WriteSurvivorsToView(), 2u);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(file[0x1000], 0);
  EXPECT_EQ(file[0x2000], 2);
  EXPECT_EQ(file[0x3000], 0);
  EXPECT_EQ(std::memcmp(file.data(), domain.nvdimm(0).media(), kSize), 0);
  EXPECT_EQ(domain.WriteSurvivorsToView(), 0u);
}

// A store the model writes into the view after the cut: the rewrite compares the ranges again.
TEST(CandidateRangesTest, RewriteAfterAStoreSinceTheCutScansAgain) {
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  domain.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  const uint8_t value = 9;
  domain.Store(0, kBase + 0x4000, 1, &value);
  EXPECT_EQ(domain.WriteSurvivorsToView(), 1u);
  EXPECT_EQ(domain.nvdimm(0).view()[0x4000], 0);
}

TEST(CandidateRangesTest, ZeroedMediaStartLetsTheCallerFillTheMedia) {
  std::vector<uint8_t> file(kSize, 7);
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, file.data(), MediaStart::kZeroes), ModelStatus::kOk);
  EXPECT_EQ(domain.nvdimm(0).media()[0], 0);
  std::memset(domain.nvdimm(0).media(), 7, kSize);
  PowerCutReport report = domain.PowerCut(Platform::kAdr, CutPolicy::Lose(), 10);
  EXPECT_EQ(report.lost_lines, 0u);
}

}  // namespace
}  // namespace nvlab::model

namespace nvlab::model {
namespace {

TEST(PersistenceDomainPendingTest, AnyPendingWorkFollowsFlushesNtStoresAndFences) {
  std::vector<uint8_t> view(4096, 0);
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(0x100000000ull, view.size(), view.data()), ModelStatus::kOk);
  EXPECT_FALSE(domain.HasAnyPendingWork());
  view[0] = 1;
  domain.FlushOpt(3, 0x100000000ull);
  EXPECT_TRUE(domain.HasAnyPendingWork());
  EXPECT_FALSE(domain.HasPendingWork(1));
  domain.Fence(1);
  EXPECT_TRUE(domain.HasAnyPendingWork());
  domain.Fence(3);
  EXPECT_FALSE(domain.HasAnyPendingWork());
  const uint8_t value = 7;
  domain.NtStore(2, 0x100000040ull, 1, &value, nullptr);
  EXPECT_TRUE(domain.HasAnyPendingWork());
  domain.Fence(2);
  EXPECT_FALSE(domain.HasAnyPendingWork());
}

}  // namespace
}  // namespace nvlab::model
