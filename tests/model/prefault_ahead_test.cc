// Tests of PrefaultAhead: which pieces a writer's notes hand to the worker (sequential ones
// only, one ahead, never past the buffer), that population maps them in and changes no byte,
// and a region whose domain commits a stream of lines with it on.
#include "nvlab/model/prefault_ahead.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "nvlab/model/persistence_domain.h"

namespace nvlab::model {
namespace {

constexpr uint64_t kPiece = PrefaultAhead::kPieceBytes;

// AlignedBuffer is `pieces` untouched anonymous pieces starting on a piece boundary.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(uint64_t pieces) : size_(pieces * kPiece) {
    mapping_size_ = size_ + kPiece;
    mapping_ =
        mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping_ == MAP_FAILED) return;
    const auto at = reinterpret_cast<uintptr_t>(mapping_);
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    data_ = reinterpret_cast<uint8_t*>((at + kPiece - 1) & ~(kPiece - 1));
  }
  ~AlignedBuffer() {
    if (mapping_ != MAP_FAILED) munmap(mapping_, mapping_size_);
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

  // ResidentPages counts the pages of piece `piece` that are mapped in.
  size_t ResidentPages(uint64_t piece) const {
    const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident(kPiece / page);
    if (mincore(data_ + piece * kPiece, kPiece, resident.data()) != 0) return ~size_t{0};
    size_t n = 0;
    for (unsigned char r : resident) n += r & 1;
    return n;
  }

 private:
  uint64_t size_;
  uint64_t mapping_size_;
  void* mapping_ = MAP_FAILED;
  uint8_t* data_ = nullptr;
};

TEST(PrefaultAheadTest, ASequentialWriterGetsTheNextPieceMappedIn) {
  AlignedBuffer buffer(4);
  ASSERT_NE(buffer.data(), nullptr);
  PrefaultAhead ahead;
  const size_t index = ahead.Track(buffer.data(), buffer.size());
  ahead.Note(index, 0);
  EXPECT_EQ(ahead.requested(), 0u);  // A first piece says nothing about what comes next.
  ahead.Note(index, kPiece + 64);
  ahead.WaitIdle();
  EXPECT_EQ(ahead.requested(), 1u);
  EXPECT_EQ(ahead.populated(), 1u);
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(buffer.ResidentPages(2), kPiece / page);
  EXPECT_EQ(buffer.ResidentPages(3), 0u);  // One piece ahead, no more.
}

TEST(PrefaultAheadTest, WritesWithinOnePieceRequestNothingMore) {
  AlignedBuffer buffer(4);
  ASSERT_NE(buffer.data(), nullptr);
  PrefaultAhead ahead;
  const size_t index = ahead.Track(buffer.data(), buffer.size());
  for (uint64_t offset = 0; offset < 2 * kPiece; offset += 4096) ahead.Note(index, offset);
  for (uint64_t offset = kPiece; offset < 2 * kPiece; offset += 64) ahead.Note(index, offset);
  ahead.WaitIdle();
  EXPECT_EQ(ahead.requested(), 1u);  // Piece 2, once.
}

TEST(PrefaultAheadTest, ARandomWriterCostsNoMemoryItDoesNotTouch) {
  AlignedBuffer buffer(8);
  ASSERT_NE(buffer.data(), nullptr);
  PrefaultAhead ahead;
  const size_t index = ahead.Track(buffer.data(), buffer.size());
  for (uint64_t piece : {5, 0, 3, 7}) ahead.Note(index, piece * kPiece + 128);
  ahead.WaitIdle();
  EXPECT_EQ(ahead.requested(), 0u);
  for (uint64_t piece = 0; piece < 8; ++piece) EXPECT_EQ(buffer.ResidentPages(piece), 0u) << piece;
}

TEST(PrefaultAheadTest, NothingPastTheBufferEnd) {
  AlignedBuffer buffer(2);
  ASSERT_NE(buffer.data(), nullptr);
  PrefaultAhead ahead;
  const size_t index = ahead.Track(buffer.data(), buffer.size());
  ahead.Note(index, 0);
  ahead.Note(index, kPiece);
  ahead.Note(index, 2 * kPiece);  // Outside: ignored.
  ahead.WaitIdle();
  EXPECT_EQ(ahead.requested(), 0u);
}

TEST(PrefaultAheadTest, AnUnalignedBufferIsFollowedByItsAddressesPieces) {
  // A buffer starting mid-piece: its offset kPiece / 2 is the start of the address's next piece.
  AlignedBuffer buffer(4);
  ASSERT_NE(buffer.data(), nullptr);
  PrefaultAhead ahead;
  const size_t index = ahead.Track(buffer.data() + kPiece / 2, buffer.size() - kPiece / 2);
  ahead.Note(index, 0);           // Address piece 0.
  ahead.Note(index, kPiece / 2);  // Address piece 1: piece 2 is next.
  ahead.WaitIdle();
  EXPECT_EQ(ahead.requested(), 1u);
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(buffer.ResidentPages(2), kPiece / page);
}

TEST(PrefaultAheadTest, PopulationChangesNoByte) {
  AlignedBuffer buffer(3);
  ASSERT_NE(buffer.data(), nullptr);
  uint8_t* next = buffer.data() + 2 * kPiece;
  for (uint64_t i = 0; i < kPiece; i += 8192) next[i + 7] = static_cast<uint8_t>(i >> 13 | 1);
  PrefaultAhead ahead;
  const size_t index = ahead.Track(buffer.data(), buffer.size());
  ahead.Note(index, 0);
  ahead.Note(index, kPiece);
  ahead.WaitIdle();
  ASSERT_EQ(ahead.requested(), 1u);
  for (uint64_t i = 0; i < kPiece; ++i) {
    const uint8_t want = i % 8192 == 7 ? static_cast<uint8_t>((i - 7) >> 13 | 1) : 0;
    ASSERT_EQ(next[i], want) << i;
  }
}

TEST(PrefaultAheadTest, DestroyedWithWorkQueued) {
  AlignedBuffer buffer(64);
  ASSERT_NE(buffer.data(), nullptr);
  {
    PrefaultAhead ahead;
    const size_t index = ahead.Track(buffer.data(), buffer.size());
    for (uint64_t piece = 0; piece < 64; ++piece) ahead.Note(index, piece * kPiece);
    EXPECT_EQ(ahead.requested(), 62u);
  }  // Joins the worker, whatever it had left.
  SUCCEED();
}

TEST(PrefaultAheadTest, WaitIdleWithoutAWorkerReturns) {
  PrefaultAhead ahead;
  ahead.WaitIdle();
  EXPECT_EQ(ahead.requested(), 0u);
}

// A domain committing a stream of lines: the region follows it, and the media holds what was
// committed, as without.
TEST(PrefaultAheadTest, ARegionFollowsADomainsStreamOfCommits) {
  constexpr uint64_t kBase = 0x100000000;
  constexpr uint64_t kSize = 8 * kPiece;
  PersistenceDomain domain;
  ASSERT_EQ(domain.AddNvdimm(kBase, kSize, nullptr), ModelStatus::kOk);
  NvdimmRegion& region = domain.nvdimm(0);
  EXPECT_EQ(region.prefault_ahead(), nullptr);
  region.EnablePrefaultAhead();
  ASSERT_NE(region.prefault_ahead(), nullptr);
  for (uint64_t line = 0; line < 4 * kPiece; line += kLineSize) {
    const uint64_t value = line / kLineSize + 1;
    domain.Store(0, kBase + line, sizeof value, reinterpret_cast<const uint8_t*>(&value));
    domain.FlushOpt(0, kBase + line);
    domain.Fence(0);
  }
  // Whatever the media buffer's alignment, four pieces of media written in order reach at
  // least two new address pieces after a written one.
  EXPECT_GE(region.prefault_ahead()->requested(), 2u);
  for (uint64_t line = 0; line < 4 * kPiece; line += kLineSize) {
    uint64_t value = 0;
    std::memcpy(&value, region.media() + line, sizeof value);
    ASSERT_EQ(value, line / kLineSize + 1) << line;
  }
  EXPECT_EQ(domain.counters().ordering_fences, 4 * kPiece / kLineSize);
}

}  // namespace
}  // namespace nvlab::model
