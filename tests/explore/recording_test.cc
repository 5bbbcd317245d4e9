// The recording: its validation, the binary format's round trip (in memory and through a
// file), and every class of corrupt or truncated file the strict decoder must reject with a
// message (never a crash).
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "nvlab/explore/recording.h"
#include "nvlab/explore/recording_decoder.h"
#include "nvlab/explore/recording_encoder.h"
#include "nvlab/explore/recording_file.h"

namespace nvlab::explore {
namespace {

constexpr uint64_t kBase = 0x100000000;
constexpr uint64_t kSize = 1 << 20;

Recording Sample() {
  Recording r;
  r.nvdimms.push_back({kBase, kSize, "/var/tmp/pmem0.start"});
  r.nvdimms.push_back({kBase + 2 * kSize, kSize, ""});
  r.processes.push_back({1, 4242, "writer"});
  r.processes.push_back({7, 1, "init"});
  const uint64_t value = 0x1122334455667788;
  uint8_t wide[64];
  for (int i = 0; i < 64; ++i) wide[i] = static_cast<uint8_t>(i * 3 + 1);
  r.events.push_back(RecordedEvent::Store(0, kBase + 0x40, &value, 8, false, 0x401000, 1));
  r.events.push_back(RecordedEvent::Store(1, kBase + 0x80, wide, 64, true, 0x401010, 7));
  r.events.push_back(RecordedEvent::Store(3, kBase + 2 * kSize + 5, wide, 3));
  r.events.push_back(RecordedEvent::Flush(0, kBase + 0x47, FlushKind::kClwb, 0x401020));
  r.events.push_back(RecordedEvent::Flush(1, kBase + 0x80, FlushKind::kClflushopt));
  r.events.push_back(RecordedEvent::Flush(2, kBase + 2 * kSize, FlushKind::kClflush));
  r.events.push_back(RecordedEvent::Fence(0, FenceKind::kSfence, 0x401030));
  r.events.push_back(RecordedEvent::Fence(1, FenceKind::kMfence));
  r.events.push_back(RecordedEvent::Fence(2, FenceKind::kLocked, 0xffffffff81000000));
  r.events.push_back(RecordedEvent::Fence(1023, FenceKind::kSerializing));
  r.events.push_back(RecordedEvent::Wbinvd(0, 0xffffffff81000010));
  return r;
}

// Rechecksum rewrites the end record's checksum so that a deliberately changed file fails for
// the reason a test means, not for its checksum.
void Rechecksum(std::string* bytes) {
  const uint64_t sum = RecordingChecksum(kRecordingChecksumStart, bytes->data(), bytes->size() - 8);
  for (int i = 0; i < 8; ++i) (*bytes)[bytes->size() - 8 + i] = static_cast<char>(sum >> (8 * i));
}

std::string Encoded(const Recording& r) {
  return EncodeRecording(r);
}

// ExpectRejected decodes bytes and expects an InvalidArgument whose message holds `needle`.
void ExpectRejected(const std::string& bytes, const std::string& needle) {
  Recording out;
  Status status = DecodeRecording(bytes, &out);
  ASSERT_FALSE(status.ok()) << needle;
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
}

// Offsets in Sample()'s file: header 16, two NVDIMM records (1+8+8+2+path), two processes.
constexpr size_t kHeader = 16;
size_t FirstEventOffset(const Recording& r) {
  size_t offset = kHeader;
  for (const RecordedNvdimm& n : r.nvdimms) offset += 19 + n.initial_image.size();
  for (const RecordedProcess& p : r.processes) offset += 10 + p.name.size();
  return offset;
}

TEST(RecordingTest, SampleIsValid) {
  EXPECT_TRUE(ValidateRecording(Sample()).ok());
}

TEST(RecordingTest, RoundTripInMemory) {
  const Recording r = Sample();
  Recording back;
  ASSERT_TRUE(DecodeRecording(Encoded(r), &back).ok());
  EXPECT_EQ(back, r);
}

TEST(RecordingTest, RoundTripOfAnEmptyEventList) {
  Recording r;
  r.nvdimms.push_back({kBase, 64, ""});
  Recording back;
  ASSERT_TRUE(DecodeRecording(Encoded(r), &back).ok());
  EXPECT_EQ(back, r);
}

TEST(RecordingTest, RoundTripThroughAFile) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("nvlab-recording-test-" + std::to_string(getpid()));
  const Recording r = Sample();
  ASSERT_TRUE(WriteRecordingFile(path, r).ok());
  Recording back;
  Status status = ReadRecordingFile(path, &back);
  std::filesystem::remove(path);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(back, r);
}

TEST(RecordingTest, FileErrorsNameThePath) {
  Recording back;
  Status missing = ReadRecordingFile("/nonexistent/nvlab.rec", &back);
  EXPECT_FALSE(missing.ok());
  Recording bad = Sample();
  bad.events[0].size = 0;
  Status invalid = WriteRecordingFile("/nonexistent/nvlab.rec", bad);
  EXPECT_EQ(invalid.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(invalid.message().find("/nonexistent/nvlab.rec"), std::string::npos);
}

// The streaming encoder: bytes may be taken out piece by piece; the checksum still covers all.
TEST(RecordingTest, StreamingEncoderEqualsWholeEncoding) {
  const Recording r = Sample();
  RecordingEncoder encoder;
  std::string file;
  auto drain = [&] {
    file += encoder.bytes();
    encoder.bytes().clear();
  };
  for (const auto& n : r.nvdimms) encoder.AddNvdimm(n);
  drain();
  for (const auto& p : r.processes) encoder.AddProcess(p);
  for (const auto& e : r.events) {
    encoder.AddEvent(e);
    drain();
  }
  encoder.Finish();
  drain();
  EXPECT_EQ(encoder.event_count(), r.events.size());
  EXPECT_EQ(file, Encoded(r));
}

// A process record may come between events (the plugin meets processes as they run), but
// before the first store naming it.
TEST(RecordingTest, ProcessRecordsMayFollowEventsButPrecedeTheirUse) {
  Recording r = Sample();
  RecordingEncoder encoder;
  for (const auto& n : r.nvdimms) encoder.AddNvdimm(n);
  encoder.AddEvent(r.events[7]);  // A fence: no process.
  for (const auto& p : r.processes) encoder.AddProcess(p);
  encoder.AddEvent(r.events[0]);
  encoder.Finish();
  Recording back;
  ASSERT_TRUE(DecodeRecording(encoder.bytes(), &back).ok());
  EXPECT_EQ(back.processes, r.processes);

  RecordingEncoder late;
  for (const auto& n : r.nvdimms) late.AddNvdimm(n);
  late.AddEvent(r.events[0]);       // Names process 1 ...
  late.AddProcess(r.processes[0]);  // ... defined only now.
  late.Finish();
  ExpectRejected(late.bytes(), "before its record");
}

// Every prefix of a file is rejected as truncated, with a message, and nothing crashes.
TEST(RecordingTest, EveryTruncationIsRejected) {
  const std::string bytes = Encoded(Sample());
  for (size_t length = 0; length < bytes.size(); ++length) {
    Recording out;
    Status status = DecodeRecording(std::string_view(bytes).substr(0, length), &out);
    ASSERT_FALSE(status.ok()) << "prefix of " << length << " bytes";
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(status.message().find("at byte"), std::string::npos) << status.message();
  }
}

// Every single-bit flip anywhere is rejected (the checksum catches what the structure does not).
TEST(RecordingTest, EveryBitFlipIsRejected) {
  const std::string bytes = Encoded(Sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      Recording out;
      ASSERT_FALSE(DecodeRecording(flipped, &out).ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(RecordingTest, HeaderCorruptions) {
  std::string bytes = Encoded(Sample());
  std::string magic = bytes;
  magic[0] = 'X';
  ExpectRejected(magic, "bad magic");
  ExpectRejected("NVLABRE", "bad magic");
  ExpectRejected(bytes.substr(0, 12), "truncated header");
  std::string version = bytes;
  version[8] = 2;
  Rechecksum(&version);
  ExpectRejected(version, "unsupported version 2");
  std::string flags = bytes;
  flags[12] = 1;
  Rechecksum(&flags);
  ExpectRejected(flags, "unknown header flags");
}

TEST(RecordingTest, RecordCorruptions) {
  const Recording r = Sample();
  const std::string bytes = Encoded(r);
  const size_t event = FirstEventOffset(r);  // The first event: an 8-byte store.
  ASSERT_EQ(bytes[event], static_cast<char>(RecordType::kStore));

  std::string type = bytes;
  type[event] = 0x55;
  Rechecksum(&type);
  ExpectRejected(type, "unknown record type 85");

  // Store: u8 type, u32 cpu, u64 pc, u64 gpa, u32 process, u8 size, u8 flags, bytes.
  std::string flags = bytes;
  flags[event + 26] = 2;
  Rechecksum(&flags);
  ExpectRejected(flags, "unknown store flags");

  std::string zero = bytes;
  zero[event + 25] = 0;
  Rechecksum(&zero);
  ExpectRejected(zero, "store size out of 1..64");
  std::string wide = bytes;
  wide[event + 25] = 65;
  Rechecksum(&wide);
  ExpectRejected(wide, "store size out of 1..64");

  std::string cpu = bytes;
  cpu[event + 2] = 4;  // cpu 1024
  Rechecksum(&cpu);
  ExpectRejected(cpu, "vCPU 1024 out of range");

  std::string process = bytes;
  process[event + 21] = 9;
  Rechecksum(&process);
  ExpectRejected(process, "process 9 before its record");

  std::string outside = bytes;
  outside[event + 17] = 0x77;  // gpa's byte 4: 0x7700000040, outside both NVDIMMs.
  Rechecksum(&outside);
  ExpectRejected(outside, "not inside one NVDIMM");

  std::string count = bytes;
  count[bytes.size() - 16] = 3;
  Rechecksum(&count);
  ExpectRejected(count, "end record counts 3 events, the file holds 11");

  std::string checksum = bytes;
  checksum[bytes.size() - 1] ^= 1;
  ExpectRejected(checksum, "checksum mismatch");

  ExpectRejected(bytes + "x", "bytes after the end record");
  ExpectRejected(bytes.substr(0, bytes.size() - 17), "no end record");
}

// Kinds of flushes and fences outside the enumerations.
TEST(RecordingTest, UnknownFlushAndFenceKinds) {
  Recording r;
  r.nvdimms.push_back({kBase, kSize, ""});
  r.events.push_back(RecordedEvent::Flush(0, kBase, FlushKind::kClwb));
  std::string flush = Encoded(r);
  flush[flush.size() - 18] = 9;  // The flush kind: the record's last byte, before the end record.
  Rechecksum(&flush);
  ExpectRejected(flush, "unknown flush kind");

  r.events[0] = RecordedEvent::Fence(0, FenceKind::kMfence);
  std::string fence = Encoded(r);
  fence[fence.size() - 18] = 0;
  Rechecksum(&fence);
  ExpectRejected(fence, "unknown fence kind");
}

TEST(RecordingTest, OrderingRulesOfRecords) {
  Recording r = Sample();
  RecordingEncoder encoder;
  encoder.AddNvdimm(r.nvdimms[0]);
  encoder.AddEvent(RecordedEvent::Fence(0));
  encoder.AddNvdimm(r.nvdimms[1]);
  encoder.Finish();
  ExpectRejected(encoder.bytes(), "NVDIMM record after other records");

  RecordingEncoder none;
  none.AddEvent(RecordedEvent::Fence(0));
  none.Finish();
  ExpectRejected(none.bytes(), "event before any NVDIMM record");

  RecordingEncoder empty;
  empty.Finish();
  ExpectRejected(empty.bytes(), "no NVDIMM");

  RecordingEncoder twice;
  twice.AddNvdimm(r.nvdimms[0]);
  twice.AddProcess({3, 1, "a"});
  twice.AddProcess({3, 2, "b"});
  twice.Finish();
  ExpectRejected(twice.bytes(), "process id 3 zero or repeated");

  RecordingEncoder zero;
  zero.AddNvdimm(r.nvdimms[0]);
  zero.AddProcess({0, 1, "a"});
  zero.Finish();
  ExpectRejected(zero.bytes(), "process id 0 zero or repeated");

  RecordingEncoder many;
  for (uint64_t i = 0; i <= kMaxRecordedNvdimms; ++i) many.AddNvdimm({kBase + i * 64, 64, ""});
  many.Finish();
  ExpectRejected(many.bytes(), "too many NVDIMMs");

  RecordingEncoder long_path;
  long_path.AddNvdimm({kBase, 64, std::string(kMaxImagePathBytes + 1, 'p')});
  long_path.Finish();
  ExpectRejected(long_path.bytes(), "image path too long");
}

// What ValidateRecording rejects, the decoder rejects too (the layout of NVDIMMs).
TEST(RecordingTest, InvalidLayoutsAreRejectedByBoth) {
  struct Case {
    RecordedNvdimm nvdimm;
    const char* needle;
  };
  const Case cases[] = {
      {{kBase, 0, ""}, "multiples of 64"},
      {{kBase + 8, 64, ""}, "multiples of 64"},
      {{kBase, 100, ""}, "multiples of 64"},
      {{~uint64_t{0} - 63, 128, ""}, "multiples of 64"},
      {{kBase + 64, kSize, ""}, "overlaps NVDIMM 0"},
      {{kBase, 64, std::string("a\0b", 3)}, "holding NUL"},
  };
  for (const Case& c : cases) {
    Recording r;
    r.nvdimms.push_back({kBase, kSize, ""});
    r.nvdimms.push_back(c.nvdimm);
    Status status = ValidateRecording(r);
    EXPECT_FALSE(status.ok()) << c.needle;
    EXPECT_NE(status.message().find(c.needle), std::string::npos) << status.message();
    ExpectRejected(Encoded(r), c.needle);
    // With an event, the layout is checked when the first event comes.
    r.events.push_back(RecordedEvent::Fence(0));
    ExpectRejected(Encoded(r), c.needle);
  }
}

TEST(RecordingTest, ValidationOfEvents) {
  const uint8_t bytes[64] = {1};
  struct Case {
    RecordedEvent event;
    const char* needle;
  };
  RecordedEvent unused = RecordedEvent::Fence(0);
  unused.gpa = kBase;
  RecordedEvent tail = RecordedEvent::Store(0, kBase, bytes, 4);
  tail.bytes[10] = 1;
  RecordedEvent name = RecordedEvent::Store(0, kBase, bytes, 4, false, 0, 5);
  const Case cases[] = {
      {RecordedEvent::Store(0, kBase + kSize - 4, bytes, 8), "not inside one NVDIMM"},
      {RecordedEvent::Store(0, kBase - 1, bytes, 2), "not inside one NVDIMM"},
      {RecordedEvent::Flush(0, kBase + kSize, FlushKind::kClwb), "outside every NVDIMM"},
      {RecordedEvent::Wbinvd(kMaxRecordedCpus), "out of range"},
      {unused, "a field its kind does not use is set"},
      {tail, "a field its kind does not use is set"},
      {name, "unknown process 5"},
  };
  for (const Case& c : cases) {
    Recording r;
    r.nvdimms.push_back({kBase, kSize, ""});
    r.events.push_back(c.event);
    Status status = ValidateRecording(r);
    ASSERT_FALSE(status.ok()) << c.needle;
    EXPECT_NE(status.message().find(c.needle), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("event 0"), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace nvlab::explore

namespace nvlab::explore {
namespace {

TEST(EventKindTest, NamesAreThoseReportsShow) {
  EXPECT_STREQ(ToString(EventKind::kStore), "store");
  EXPECT_STREQ(ToString(EventKind::kFlush), "flush");
  EXPECT_STREQ(ToString(EventKind::kFence), "fence");
  EXPECT_STREQ(ToString(EventKind::kWbinvd), "wbinvd");
  EXPECT_STREQ(ToString(static_cast<EventKind>(99)), "event");
}

}  // namespace
}  // namespace nvlab::explore
