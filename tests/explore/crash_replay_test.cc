// CrashReplay and the crash states it allows: the litmus rows of
// docs/design/persistence-model.md as state spaces (a flushed and fenced store is determined,
// an unflushed one has two states, ...), tearing at 8-byte boundaries, NT stores, eADR,
// WBINVD, initial images, limits and errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nvlab/explore/crash_replay.h"
#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/recording.h"

namespace nvlab::explore {
namespace {

using model::Platform;

constexpr uint64_t kBase = 0x100000000;
constexpr uint64_t kSize = 1 << 16;
constexpr uint64_t kA = kBase + 0x1040;
constexpr uint64_t kB = kBase + 0x2080;

// Script builds a recording from guest-like steps.
class Script {
 public:
  Script() { recording_.nvdimms.push_back({kBase, kSize, ""}); }
  Script& Store(uint64_t addr, uint64_t value, uint32_t cpu = 0) {
    recording_.events.push_back(RecordedEvent::Store(cpu, addr, &value, 8));
    return *this;
  }
  Script& StoreBytes(uint64_t addr, const void* data, uint8_t size, bool nt = false,
                     uint32_t cpu = 0) {
    recording_.events.push_back(RecordedEvent::Store(cpu, addr, data, size, nt));
    return *this;
  }
  Script& Movnti(uint64_t addr, uint64_t value, uint32_t cpu = 0) {
    recording_.events.push_back(RecordedEvent::Store(cpu, addr, &value, 8, true));
    return *this;
  }
  Script& Clwb(uint64_t addr, uint32_t cpu = 0) {
    recording_.events.push_back(RecordedEvent::Flush(cpu, addr, FlushKind::kClwb));
    return *this;
  }
  Script& Clflushopt(uint64_t addr, uint32_t cpu = 0) {
    recording_.events.push_back(RecordedEvent::Flush(cpu, addr, FlushKind::kClflushopt));
    return *this;
  }
  Script& Clflush(uint64_t addr, uint32_t cpu = 0) {
    recording_.events.push_back(RecordedEvent::Flush(cpu, addr, FlushKind::kClflush));
    return *this;
  }
  Script& Fence(uint32_t cpu = 0, FenceKind kind = FenceKind::kSfence) {
    recording_.events.push_back(RecordedEvent::Fence(cpu, kind));
    return *this;
  }
  Script& Wbinvd(uint32_t cpu = 0) {
    recording_.events.push_back(RecordedEvent::Wbinvd(cpu));
    return *this;
  }
  const Recording& recording() const { return recording_; }

 private:
  Recording recording_;
};

CrashStateSpace SpaceAt(const Recording& recording, Platform platform, uint64_t point,
                        std::span<const uint8_t> image = {}) {
  std::unique_ptr<CrashReplay> replay;
  Status status = CrashReplay::Create(&recording, platform, {image}, &replay);
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_TRUE(replay->AdvanceTo(point).ok());
  CrashStateSpace space;
  status = replay->BuildSpace(SpaceLimits(), &space);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return space;
}

CrashStateSpace SpaceAtEnd(const Script& script, Platform platform) {
  return SpaceAt(script.recording(), platform, script.recording().events.size());
}

uint64_t WordAt(const LineBytes& line, uint64_t addr) {
  uint64_t value = 0;
  std::memcpy(&value, line.data() + addr % kLineBytes, sizeof value);
  return value;
}

// Values returns the possible values of the 8 bytes at addr: one when the line is determined
// (or untouched: 0), else one per candidate in candidate order.
std::vector<uint64_t> Values(const CrashStateSpace& space, uint64_t addr) {
  const uint64_t line = addr & ~(kLineBytes - 1);
  if (int64_t u = space.UndeterminedIndex(addr); u >= 0) {
    std::vector<uint64_t> values;
    for (const LineBytes& c : space.undetermined[u].candidates) values.push_back(WordAt(c, addr));
    return values;
  }
  for (const DeterminedLine& d : space.determined) {
    if (d.gpa == line) return {WordAt(d.content, addr)};
  }
  return {0};
}

using V = std::vector<uint64_t>;

struct LitmusRow {
  std::string name;
  Script script;
  V adr_a, eadr_a;
  V adr_b = {0}, eadr_b = {0};
};

std::vector<LitmusRow> Rows() {
  return {
      {"Store", Script().Store(kA, 1), {0, 1}, {1}},
      {"StoreClwb", Script().Store(kA, 1).Clwb(kA), {0, 1}, {1}},
      {"StoreClwbSfence", Script().Store(kA, 1).Clwb(kA).Fence(), {1}, {1}},
      {"StoreClflush", Script().Store(kA, 1).Clflush(kA), {1}, {1}},
      {"StoreClflushoptMfence",
       Script().Store(kA, 1).Clflushopt(kA + 5).Fence(0, FenceKind::kMfence),
       {1},
       {1}},
      {"StoreClwbLocked", Script().Store(kA, 1).Clwb(kA).Fence(0, FenceKind::kLocked), {1}, {1}},
      {"StoreClwbSerializing",
       Script().Store(kA, 1).Clwb(kA).Fence(0, FenceKind::kSerializing),
       {1},
       {1}},
      {"StoreClwbOnCpu0SfenceOnCpu1Only", Script().Store(kA, 1).Clwb(kA).Fence(1), {0, 1}, {1}},
      {"StoreOneClwbStoreTwoSfence",
       Script().Store(kA, 1).Clwb(kA).Store(kA, 2).Fence(),
       {1, 2},
       {2}},
      {"Movnti", Script().Movnti(kA, 1), {0, 1}, {0, 1}},
      {"MovntiSfence", Script().Movnti(kA, 1).Fence(), {1}, {1}},
      {"MovntiOnCpu0SfenceOnCpu1Only", Script().Movnti(kA, 1).Fence(1), {0, 1}, {0, 1}},
      {"StoreAStoreBClwbASfence",
       Script().Store(kA, 1).Store(kB, 2).Clwb(kA).Fence(),
       {1},
       {1},
       {0, 2},
       {2}},
      {"StoreWbinvd", Script().Store(kA, 1).Store(kB, 2, 1).Wbinvd(), {1}, {1}, {2}, {2}},
      {"ClwbOnCpu0OlderThanClflushOnCpu1",
       Script().Store(kA, 1).Clwb(kA).Store(kA, 2, 1).Clflush(kA, 1).Fence(),
       {2},
       {2}},
      {"ClwbOnTwoCpusEachFenceLandsItsOwnSnapshot",
       Script().Store(kA, 1).Clwb(kA).Store(kA, 2, 1).Clwb(kA, 1).Fence(),
       {1, 2},
       {2}},
      {"FenceBeforeFlushOrdersNothing", Script().Store(kA, 1).Fence().Clwb(kA), {0, 1}, {1}},
      // Beyond the model's table: histories within a line.
      {"TwoStoresToOneWord", Script().Store(kA, 1).Store(kA, 2), {0, 1, 2}, {2}},
      {"PersistedThenStoredAgain",
       Script().Store(kA, 1).Clwb(kA).Fence().Store(kA, 2),
       {1, 2},
       {2}},
      {"MovntiFenceMovnti", Script().Movnti(kA, 1).Fence().Movnti(kA, 2), {1, 2}, {1, 2}},
      {"ClflushWithoutFenceIsEnough",
       Script().Store(kA, 1).Clflush(kA).Store(kB, 3).Clflush(kB),
       {1},
       {1},
       {3},
       {3}},
  };
}

TEST(CrashReplayTest, LitmusRowsAsStateSpaces) {
  for (const LitmusRow& row : Rows()) {
    const CrashStateSpace adr = SpaceAtEnd(row.script, Platform::kAdr);
    const CrashStateSpace eadr = SpaceAtEnd(row.script, Platform::kEadr);
    EXPECT_EQ(Values(adr, kA), row.adr_a) << row.name << " on ADR";
    EXPECT_EQ(Values(eadr, kA), row.eadr_a) << row.name << " on eADR";
    EXPECT_EQ(Values(adr, kB), row.adr_b) << row.name << " on ADR, line B";
    EXPECT_EQ(Values(eadr, kB), row.eadr_b) << row.name << " on eADR, line B";
    // The states of the crash point: the product over its lines.
    uint64_t adr_states = row.adr_a.size() * row.adr_b.size();
    EXPECT_EQ(adr.Count(), StateCount(adr_states)) << row.name;
  }
}

// Two stores to different words of one line: prefixes only, never the second without the first.
TEST(CrashReplayTest, StoresToOneLineLandAsPrefixes) {
  const CrashStateSpace space = SpaceAtEnd(Script().Store(kA, 1).Store(kA + 8, 2), Platform::kAdr);
  ASSERT_EQ(space.undetermined.size(), 1u);
  const auto& c = space.undetermined[0].candidates;
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(WordAt(c[0], kA), 0u);
  EXPECT_EQ(WordAt(c[0], kA + 8), 0u);
  EXPECT_EQ(WordAt(c[1], kA), 1u);
  EXPECT_EQ(WordAt(c[1], kA + 8), 0u);
  EXPECT_EQ(WordAt(c[2], kA), 1u);
  EXPECT_EQ(WordAt(c[2], kA + 8), 2u);
  EXPECT_EQ(space.undetermined[0].sources, (std::vector<uint64_t>{kNoEvent, 0, 1}));
}

// A 16-byte store tears at its 8-byte boundary: old, the low half, both (3 states).
TEST(CrashReplayTest, SixteenByteStoreTearsIntoThreeStates) {
  uint8_t bytes[16];
  std::memset(bytes, 0xAB, sizeof bytes);
  const CrashStateSpace space = SpaceAtEnd(Script().StoreBytes(kA, bytes, 16), Platform::kAdr);
  ASSERT_EQ(space.undetermined.size(), 1u);
  EXPECT_EQ(Values(space, kA), (V{0, 0xABABABABABABABAB, 0xABABABABABABABAB}));
  EXPECT_EQ(Values(space, kA + 8), (V{0, 0, 0xABABABABABABABAB}));
}

// Unaligned: an 8-byte store at offset 4 is two pieces; a 4-byte store at offset 2 is one.
TEST(CrashReplayTest, UnalignedStoresTearAtEightByteBoundaries) {
  const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(SpaceAtEnd(Script().StoreBytes(kA + 4, bytes, 8), Platform::kAdr).Count(),
            StateCount(3));
  EXPECT_EQ(SpaceAtEnd(Script().StoreBytes(kA + 2, bytes, 4), Platform::kAdr).Count(),
            StateCount(2));
  // A store across two lines: each line on its own (2 x 2).
  EXPECT_EQ(SpaceAtEnd(Script().StoreBytes(kA + 60, bytes, 8), Platform::kAdr).Count(),
            StateCount(4));
}

// An unfenced 16-byte NT store: its two pieces sit in the WC buffer and land independently.
TEST(CrashReplayTest, UnfencedWideNtStoreHasFourStates) {
  uint8_t bytes[16];
  std::memset(bytes, 0x5A, sizeof bytes);
  for (Platform platform : {Platform::kAdr, Platform::kEadr}) {
    const CrashStateSpace space =
        SpaceAtEnd(Script().StoreBytes(kA, bytes, 16, /*nt=*/true), platform);
    EXPECT_EQ(space.Count(), StateCount(4));
  }
  EXPECT_EQ(SpaceAtEnd(Script().StoreBytes(kA, bytes, 16, true).Fence(), Platform::kAdr).Count(),
            StateCount(1));
}

// A fenced NT store is on the media whatever happens to the line's older cached stores.
TEST(CrashReplayTest, FencedNtStoreIsNotUndoneByAnOlderCachedVersion) {
  uint8_t line[64];
  std::memset(line, 0x11, sizeof line);
  const uint64_t first = kA & ~(kLineBytes - 1);
  const CrashStateSpace space =
      SpaceAtEnd(Script().StoreBytes(first, line, 64).Movnti(first + 8, 7).Fence(), Platform::kAdr);
  // The 64-byte store's eight pieces give eight prefixes (all eight pieces landed is the
  // cached copy at the cut); in each, the NT store's word holds 7.
  EXPECT_EQ(Values(space, first + 8), V(8, 7));
  EXPECT_EQ(Values(space, first),
            (V{0, 0x1111111111111111, 0x1111111111111111, 0x1111111111111111, 0x1111111111111111,
               0x1111111111111111, 0x1111111111111111, 0x1111111111111111}));
  EXPECT_EQ(Values(space, first + 56), (V{0, 0, 0, 0, 0, 0, 0, 0x1111111111111111}));
}

// eADR keeps every cached store; what waits in a WC buffer is still undetermined.
TEST(CrashReplayTest, EadrKeepsCachedStoresButNotUnfencedNtStores) {
  const CrashStateSpace space =
      SpaceAtEnd(Script().Store(kA, 1).Movnti(kA + 8, 2).Store(kA + 16, 3), Platform::kEadr);
  EXPECT_EQ(Values(space, kA), (V{1, 1}));
  EXPECT_EQ(Values(space, kA + 8), (V{0, 2}));
  EXPECT_EQ(Values(space, kA + 16), (V{3, 3}));
}

// The initial image is where the history starts: candidate 0, and what unlisted lines hold.
TEST(CrashReplayTest, InitialImageIsTheOldContent) {
  std::vector<uint8_t> image(kSize, 0);
  const uint64_t old_value = 0x0102030405060708;
  std::memcpy(image.data() + (kA - kBase), &old_value, 8);
  std::memcpy(image.data() + (kB - kBase), &old_value, 8);
  Script script;
  script.Store(kA, 9).Store(kB, old_value).Clwb(kB).Fence();
  const CrashStateSpace space =
      SpaceAt(script.recording(), Platform::kAdr, script.recording().events.size(), image);
  ASSERT_EQ(space.undetermined.size(), 1u);
  EXPECT_EQ(WordAt(space.undetermined[0].initial, kA), old_value);
  EXPECT_EQ(Values(space, kA), (V{old_value, 9}));
  // B was persisted with the value it already had: not different from the image, not listed.
  EXPECT_TRUE(space.determined.empty());
}

// Crash points in between: the space before event k is the space of events [0, k).
TEST(CrashReplayTest, EveryCrashPointOfOnePassEqualsAFreshReplay) {
  Script script;
  script.Store(kA, 1).Clwb(kA).Store(kB, 2).Fence().Movnti(kB + 8, 3).Store(kA, 4).Wbinvd(1);
  const Recording& recording = script.recording();
  std::unique_ptr<CrashReplay> replay;
  ASSERT_TRUE(CrashReplay::Create(&recording, Platform::kAdr, {{}}, &replay).ok());
  for (uint64_t k = 0; k <= recording.events.size(); ++k) {
    ASSERT_TRUE(replay->AdvanceTo(k).ok());
    CrashStateSpace one_pass;
    ASSERT_TRUE(replay->BuildSpace(SpaceLimits(), &one_pass).ok());
    const CrashStateSpace fresh = SpaceAt(recording, Platform::kAdr, k);
    EXPECT_EQ(one_pass.crash_point, k);
    EXPECT_EQ(one_pass.Count(), fresh.Count()) << k;
    ASSERT_EQ(one_pass.undetermined.size(), fresh.undetermined.size()) << k;
    for (size_t i = 0; i < fresh.undetermined.size(); ++i) {
      EXPECT_EQ(one_pass.undetermined[i].candidates, fresh.undetermined[i].candidates) << k;
    }
  }
  // Before anything ran: nothing to choose.
  EXPECT_EQ(SpaceAt(recording, Platform::kAdr, 0).Count(), StateCount(1));
}

TEST(CrashReplayTest, Errors) {
  Script script;
  script.Store(kA, 1).Store(kA, 2).Store(kA, 3);
  std::unique_ptr<CrashReplay> replay;
  std::vector<uint8_t> short_image(100);
  EXPECT_EQ(CrashReplay::Create(&script.recording(), Platform::kAdr, {short_image}, &replay).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(CrashReplay::Create(&script.recording(), Platform::kAdr, {}, &replay).code(),
            Status::Code::kInvalidArgument);
  Recording invalid = script.recording();
  invalid.events[0].size = 0;
  EXPECT_EQ(CrashReplay::Create(&invalid, Platform::kAdr, {{}}, &replay).code(),
            Status::Code::kInvalidArgument);

  ASSERT_TRUE(CrashReplay::Create(&script.recording(), Platform::kAdr, {{}}, &replay).ok());
  ASSERT_TRUE(replay->AdvanceTo(3).ok());
  EXPECT_FALSE(replay->AdvanceTo(2).ok());
  EXPECT_FALSE(replay->AdvanceTo(4).ok());
  CrashStateSpace space;
  SpaceLimits limits;
  limits.max_line_candidates = 3;
  Status status = replay->BuildSpace(limits, &space);
  EXPECT_EQ(status.code(), Status::Code::kNotSupported);
  EXPECT_NE(status.message().find("more than 3 possible contents"), std::string::npos);
  limits.max_line_candidates = 4;
  EXPECT_TRUE(replay->BuildSpace(limits, &space).ok());
}

}  // namespace
}  // namespace nvlab::explore
