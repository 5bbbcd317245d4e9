// RecordingWriter without QEMU: the files it leaves (a recording that reads back and
// validates, sparse initial images named relative to it), how it splits stores, the fence
// filter, and that a failure or an abandoned recording leaves no file that looks complete.
#include "recording_writer.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "nvlab/explore/recording.h"
#include "nvlab/explore/recording_file.h"

namespace nvlab::plugin {
namespace {

namespace fs = std::filesystem;
using explore::FenceKind;
using explore::FlushKind;
using explore::RecordedEvent;
using explore::Recording;

constexpr uint64_t kBase0 = 0x100000000;
constexpr uint64_t kSize0 = 8192;
constexpr uint64_t kBase1 = kBase0 + kSize0;  // Adjacent: a store may cross into it.
constexpr uint64_t kSize1 = 4096;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class RecordingWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvlab-recording-writer-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "run.rec").string();
    files_[0] = Nvdimm(dir_ / "nv0", kSize0, uint64_t{3} * 64, 'A');
    files_[1] = Nvdimm(dir_ / "nv1", kSize1, 0, 'B');
  }
  void TearDown() override {
    for (int fd : files_) {
      if (fd >= 0) close(fd);
    }
    fs::remove_all(dir_);
  }

  // Nvdimm makes a sparse file of `size` bytes with 64 bytes of `fill` at `at`.
  static int Nvdimm(const fs::path& path, uint64_t size, uint64_t at, char fill) {
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    const std::string data(64, fill);
    EXPECT_EQ(pwrite(fd, data.data(), data.size(), static_cast<off_t>(at)), 64);
    return fd;
  }

  std::unique_ptr<RecordingWriter> Start(std::string* error) {
    return RecordingWriter::Start(
        path_, {{kBase0, kSize0, files_[0]}, {kBase1, kSize1, files_[1]}},
        [this](const std::string& sentence) { errors_.push_back(sentence); }, error);
  }

  Recording ReadBack() {
    Recording r;
    const Status read = explore::ReadRecordingFile(path_, &r);
    EXPECT_TRUE(read.ok()) << read.ToString();
    const Status valid = explore::ValidateRecording(r);
    EXPECT_TRUE(valid.ok()) << valid.ToString();
    return r;
  }

  fs::path dir_;
  std::string path_;
  int files_[2] = {-1, -1};
  std::vector<std::string> errors_;
};

TEST_F(RecordingWriterTest, WritesARecordingThatReadsBackWithSparseInitialImages) {
  std::string error;
  auto w = Start(&error);
  ASSERT_NE(w, nullptr) << error;
  EXPECT_TRUE(fs::exists(path_ + ".part"));
  EXPECT_FALSE(fs::exists(path_));
  const uint32_t writer = w->Process(4242, "writer");
  EXPECT_EQ(writer, 1u);
  EXPECT_EQ(w->Process(4242, "writer"), 1u);
  EXPECT_EQ(w->Process(7, std::string("a\0b", 3)), 2u);
  uint8_t bytes[16];
  for (int i = 0; i < 16; ++i) bytes[i] = static_cast<uint8_t>(0x10 + i);
  w->Store(0, 0x401000, kBase0 + 0x3c, bytes, 8, false, writer);    // Crosses a line.
  w->Store(1, 0x401010, kBase1 - 4, bytes, 8, true, 0);             // Crosses NVDIMMs.
  w->Store(1, 0x401020, kBase1 + kSize1 - 2, bytes, 16, false, 0);  // Past the last.
  w->Store(1, 0x401030, kBase0 - 8, bytes, 16, false, 0);           // Starts below.
  w->Store(0, 0x401040, 0x1000, bytes, 8, false, 0);                // DRAM: dropped.
  w->Flush(0, 0x401050, kBase0 + 0x47, FlushKind::kClwb);
  w->Flush(0, 0x401060, 0x2000, FlushKind::kClwb);  // DRAM: dropped.
  w->Fence(0, 0x401070, FenceKind::kSfence);
  w->Fence(0, 0x401080, FenceKind::kLocked);  // Nothing since the last: filtered.
  w->Wbinvd(2, 0x401090);
  EXPECT_TRUE(w->Finish());
  EXPECT_TRUE(errors_.empty());
  EXPECT_FALSE(fs::exists(path_ + ".part"));

  const Recording r = ReadBack();
  ASSERT_EQ(r.nvdimms.size(), 2u);
  EXPECT_EQ(r.nvdimms[0].base, kBase0);
  EXPECT_EQ(r.nvdimms[0].size, kSize0);
  EXPECT_EQ(r.nvdimms[0].initial_image, "run.rec.nvdimm0");
  EXPECT_EQ(r.nvdimms[1].initial_image, "run.rec.nvdimm1");
  ASSERT_EQ(r.processes.size(), 2u);
  EXPECT_EQ(r.processes[0], (explore::RecordedProcess{1, 4242, "writer"}));
  EXPECT_EQ(r.processes[1], (explore::RecordedProcess{2, 7, "a?b"}));
  const std::vector<RecordedEvent> expected = {
      RecordedEvent::Store(0, kBase0 + 0x3c, bytes, 4, false, 0x401000, writer),
      RecordedEvent::Store(0, kBase0 + 0x40, bytes + 4, 4, false, 0x401000, writer),
      RecordedEvent::Store(1, kBase1 - 4, bytes, 4, true, 0x401010),
      RecordedEvent::Store(1, kBase1, bytes + 4, 4, true, 0x401010),
      RecordedEvent::Store(1, kBase1 + kSize1 - 2, bytes, 2, false, 0x401020),
      RecordedEvent::Store(1, kBase0, bytes + 8, 8, false, 0x401030),
      RecordedEvent::Flush(0, kBase0 + 0x47, FlushKind::kClwb, 0x401050),
      RecordedEvent::Fence(0, FenceKind::kSfence, 0x401070),
      RecordedEvent::Wbinvd(2, 0x401090),
  };
  EXPECT_EQ(r.events, expected);

  for (int i = 0; i < 2; ++i) {
    const fs::path image = dir_ / r.nvdimms[i].initial_image;
    const std::string copy = ReadAll(image);
    const std::string original = ReadAll(dir_ / (i == 0 ? "nv0" : "nv1"));
    EXPECT_EQ(copy, original) << image;
  }
}

TEST_F(RecordingWriterTest, RecordsAFenceOnlyAfterItsCpusFlushOrNtStore) {
  std::string error;
  auto w = Start(&error);
  ASSERT_NE(w, nullptr) << error;
  const uint8_t v[8] = {1};
  w->Fence(0, 1, FenceKind::kSerializing);  // Nothing recorded yet.
  EXPECT_FALSE(w->AnyFenceWanted());
  w->Store(0, 2, kBase0, v, 8, false, 0);  // A plain store orders nothing.
  w->Fence(0, 3, FenceKind::kMfence);
  EXPECT_FALSE(w->AnyFenceWanted());
  w->Flush(0, 4, kBase0, FlushKind::kClflush);
  EXPECT_TRUE(w->WantsFence(0));
  EXPECT_FALSE(w->WantsFence(1));
  w->Fence(1, 5, FenceKind::kSfence);  // Another CPU's fence: not this CPU's.
  w->Store(1, 6, kBase0, v, 8, true, 0);
  w->Fence(0, 7, FenceKind::kLocked);
  w->Fence(0, 8, FenceKind::kLocked);
  EXPECT_TRUE(w->AnyFenceWanted());
  w->Fence(1, 9, FenceKind::kSfence);
  EXPECT_FALSE(w->AnyFenceWanted());
  ASSERT_TRUE(w->Finish());
  const std::vector<RecordedEvent> expected = {
      RecordedEvent::Store(0, kBase0, v, 8, false, 2),
      RecordedEvent::Flush(0, kBase0, FlushKind::kClflush, 4),
      RecordedEvent::Store(1, kBase0, v, 8, true, 6),
      RecordedEvent::Fence(0, FenceKind::kLocked, 7),
      RecordedEvent::Fence(1, FenceKind::kSfence, 9),
  };
  EXPECT_EQ(ReadBack().events, expected);
}

TEST_F(RecordingWriterTest, AnAbandonedRecordingLeavesNoFiles) {
  std::string error;
  {
    auto w = Start(&error);
    ASSERT_NE(w, nullptr) << error;
    const uint8_t v[8] = {1};
    w->Store(0, 2, kBase0, v, 8, false, 0);
  }
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_FALSE(fs::exists(path_ + ".part"));
  EXPECT_FALSE(fs::exists(path_ + ".nvdimm0"));
  EXPECT_FALSE(fs::exists(path_ + ".nvdimm1"));
}

TEST_F(RecordingWriterTest, AnEarlierRecordingIsRemovedAtStart) {
  std::ofstream(path_) << "an old recording";
  std::string error;
  auto w = Start(&error);
  ASSERT_NE(w, nullptr) << error;
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(RecordingWriterTest, StartFailsWithASentenceAndLeavesNothing) {
  path_ = (dir_ / "missing" / "run.rec").string();
  std::string error;
  EXPECT_EQ(Start(&error), nullptr);
  EXPECT_NE(error.find("missing/run.rec"), std::string::npos) << error;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
}

// A write error (here: the file size limit, EFBIG) is reported once and removes the recording.
TEST_F(RecordingWriterTest, AWriteErrorIsReportedOnceAndRemovesTheRecording) {
  std::string error;
  auto w = Start(&error);
  ASSERT_NE(w, nullptr) << error;
  const uint8_t v[8] = {1};
  for (int i = 0; i < 100; ++i) w->Store(0, 2, kBase0, v, 8, false, 0);
  w->Flush(0, 3, kBase0, FlushKind::kClwb);
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 100;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const bool finished = w->Finish();
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  (void)signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(finished);
  EXPECT_FALSE(w->AnyFenceWanted());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("run.rec.part"), std::string::npos) << errors_[0];
  w->Store(0, 2, kBase0, v, 8, false, 0);  // A no-op now.
  EXPECT_FALSE(w->Finish());
  EXPECT_EQ(errors_.size(), 1u);
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_FALSE(fs::exists(path_ + ".part"));
  EXPECT_FALSE(fs::exists(path_ + ".nvdimm0"));
}

}  // namespace
}  // namespace nvlab::plugin
