// nvlab-plugin.so's crash-state exploration modes in the installed qemu-system-x86_64 (label
// tcg), with bare-metal guests assembled here (x86_guest_program.h):
//   record=        the recording window between the guest's CPUID marks: every NVDIMM store
//                  (bytes, split at lines), flush and WBINVD, fences only where they order
//                  something, the initial image; checked event by event.
//   watch-loads=on the NVDIMM lines the guest reads between watch-begin and watch-end, in
//                  first-read order, and the guest reading what the host wrote into the NVDIMM
//                  file while it was stopped.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nvlab/explore/crash_replay.h"
#include "nvlab/explore/crash_state_space.h"
#include "nvlab/explore/recording.h"
#include "nvlab/explore/recording_file.h"
#include "nvrtl/nvlab_power_cut.h"
#include "nvrtl/nvlab_recording_marker.h"
#include "qemu_plugin_harness.h"
#include "x86_guest_program.h"

namespace nvlab::plugin_test {
namespace {

using explore::FenceKind;
using explore::FlushKind;
using explore::RecordedEvent;
using explore::Recording;

constexpr uint64_t kB = kNvdimmBase;
constexpr uint64_t kV = 0x1111111111111111ULL;
constexpr uint64_t kLine = 64;
constexpr uint64_t kPatternOffset = 100 * kLine;  // A line the host filled before the run.

// RecordingGuest: what the guest does, and the events a recording of it must hold.
struct RecordingGuest {
  std::vector<uint8_t> image;
  std::vector<RecordedEvent> events;  // The window's, in order.
  uint64_t second_begin_pc = 0;
  // The lines a power cut at the window's end may leave either way (ADR).
  std::vector<uint64_t> undetermined_at_end;
};

// MakeRecordingGuest: stores before the begin mark (in the initial image, not events), then in
// the window every kind of store, flush and fence, a locked instruction and a second begin
// mark with nothing pending (not recorded), WBINVD; then the end mark (with_end_mark) and more
// work that is not recorded, then the power cut. Without the end mark the window ends at the
// cut and holds that work too.
RecordingGuest MakeRecordingGuest(bool with_end_mark) {
  X86GuestProgram g;
  RecordingGuest out;
  uint8_t c16[16];
  for (int i = 0; i < 16; ++i) c16[i] = static_cast<uint8_t>(0x20 + i);
  g.SetData(0, c16, sizeof c16);
  uint8_t v[8];
  std::memcpy(v, &kV, sizeof v);
  const uint8_t imm[8] = {0x7f};
  auto store = [&](uint64_t pc, uint64_t offset, const uint8_t* bytes, uint8_t size, bool nt) {
    out.events.push_back(RecordedEvent::Store(0, kB + offset, bytes, size, nt, pc));
  };
  g.MovImm64(kRdi, kB);
  g.MovImm64(kR9, kV);
  g.MovImm64(kRsi, X86GuestProgram::kDataAddress);
  g.MovdquLoad(0, kRsi, 0);
  g.Store64(kR9, kRdi, 0x000);  // Before the window: the initial image holds them.
  g.Movnti(kR9, kRdi, 0x040);
  g.Cpuid(NVLAB_POWER_CUT_CPUID_LEAF, NVLAB_RECORDING_BEGIN_CPUID_SUBLEAF);
  store(g.Store64(kR9, kRdi, 0x080), 0x080, v, 8, false);
  store(g.StoreImm64(kRdi, 0x0c0, 0x7f), 0x0c0, imm, 8, false);
  store(g.Store8(kR9, kRdi, 0x0c8), 0x0c8, v, 1, false);
  const uint64_t crossing = g.Store64(kR9, kRdi, 0x13c);  // Lines 4 and 5.
  store(crossing, 0x13c, v, 4, false);
  store(crossing, 0x140, v + 4, 4, false);
  store(g.MovdquStore(0, kRdi, 0x180), 0x180, c16, 16, false);
  store(g.Movnti(kR9, kRdi, 0x1c0), 0x1c0, v, 8, true);
  store(g.Movntdq(0, kRdi, 0x200), 0x200, c16, 16, true);
  out.events.push_back(RecordedEvent::Flush(0, kB + 0x080, FlushKind::kClwb, g.Clwb(kRdi, 0x080)));
  out.events.push_back(
      RecordedEvent::Flush(0, kB + 0x0c0, FlushKind::kClflushopt, g.Clflushopt(kRdi, 0x0c0)));
  out.events.push_back(
      RecordedEvent::Flush(0, kB + 0x180, FlushKind::kClflush, g.Clflush(kRdi, 0x180)));
  out.events.push_back(RecordedEvent::Fence(0, FenceKind::kSfence, g.Sfence()));
  g.LockAddZeroToStack();  // Nothing pending: not recorded.
  out.second_begin_pc = g.Cpuid(NVLAB_POWER_CUT_CPUID_LEAF, NVLAB_RECORDING_BEGIN_CPUID_SUBLEAF);
  store(g.Store64(kR9, kRdi, 0x240), 0x240, v, 8, false);
  out.events.push_back(RecordedEvent::Wbinvd(0, g.Wbinvd()));
  g.LockAddZeroToStack();  // Nothing pending after WBINVD: not recorded.
  out.events.push_back(RecordedEvent::Flush(0, kB + 0x240, FlushKind::kClwb, g.Clwb(kRdi, 0x240)));
  out.events.push_back(RecordedEvent::Fence(0, FenceKind::kMfence, g.Mfence()));
  store(g.Movnti(kR9, kRdi, 0x280), 0x280, v, 8, true);
  std::vector<RecordedEvent> after;
  if (with_end_mark) g.Cpuid(NVLAB_POWER_CUT_CPUID_LEAF, NVLAB_RECORDING_END_CPUID_SUBLEAF);
  after.push_back(RecordedEvent::Store(0, kB + 0x2c0, v, 8, false, g.Store64(kR9, kRdi, 0x2c0)));
  after.push_back(RecordedEvent::Flush(0, kB + 0x2c0, FlushKind::kClwb, g.Clwb(kRdi, 0x2c0)));
  after.push_back(RecordedEvent::Fence(0, FenceKind::kSfence, g.Sfence()));
  if (!with_end_mark) out.events.insert(out.events.end(), after.begin(), after.end());
  // The MOVNTI to 0x280 is unfenced when the end mark closes the window; the SFENCE after it
  // orders it when the window runs to the cut. Every other line is flushed and fenced,
  // CLFLUSHed, fenced NT stores or written back by the WBINVD.
  if (with_end_mark) out.undetermined_at_end = {kB + 0x280};
  g.Cpuid(NVLAB_POWER_CUT_CPUID_LEAF, NVLAB_POWER_CUT_CPUID_SUBLEAF);
  g.HaltForever();
  EXPECT_TRUE(g.Fits());
  out.image = g.Image();
  return out;
}

class QemuPluginRecordTest : public QemuPluginHarness {
 protected:
  // FillPattern writes a line of 0xab into the NVDIMM file before the run.
  void FillPattern() { ASSERT_TRUE(WriteWordAt(nvdimm_, kPatternOffset, 0xabababababababab)); }

  // RunRecordingGuest runs the guest to its power cut with `options`.
  void RunRecordingGuest(const RecordingGuest& guest, const std::string& options) {
    FillPattern();
    Start(MachineArgsFor(options, false, &guest.image));
    const int status = Wait();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << Stderr();
  }

  // CheckRecording reads the recording back and checks its layout, events and initial image.
  void CheckRecording(const RecordingGuest& guest) {
    const fs::path path = dir_ / "rec";
    EXPECT_FALSE(fs::exists(dir_ / "rec.part"));
    Recording r;
    const Status read = explore::ReadRecordingFile(path, &r);
    ASSERT_TRUE(read.ok()) << read.ToString() << Stderr();
    const Status valid = explore::ValidateRecording(r);
    EXPECT_TRUE(valid.ok()) << valid.ToString();
    ASSERT_EQ(r.nvdimms.size(), 1u);
    EXPECT_EQ(r.nvdimms[0].base, kNvdimmBase);
    EXPECT_EQ(r.nvdimms[0].size, kNvdimmSize);
    EXPECT_EQ(r.nvdimms[0].initial_image, "rec.nvdimm0");
    EXPECT_TRUE(r.processes.empty());
    ASSERT_EQ(r.events.size(), guest.events.size());
    for (size_t i = 0; i < r.events.size(); ++i) {
      EXPECT_EQ(r.events[i], guest.events[i])
          << "event " << i << ", pc 0x" << std::hex << r.events[i].pc << ", expected pc 0x"
          << guest.events[i].pc;
      EXPECT_NE(r.events[i].pc, 0u);
    }
    // The initial image: the stores before the begin mark (the NT one persisted by it) and
    // the host's pattern; zeroes elsewhere.
    std::string expected(kNvdimmSize, '\0');
    std::memcpy(&expected[0x000], &kV, 8);
    std::memcpy(&expected[0x040], &kV, 8);
    std::memset(&expected[kPatternOffset], 0xab, 8);
    const std::string image = ReadFile(dir_ / r.nvdimms[0].initial_image);
    ASSERT_TRUE(image == expected) << "the initial image differs";

    // The exploration core takes it: the crash states at the window's end.
    std::unique_ptr<explore::CrashReplay> replay;
    const Status created = explore::CrashReplay::Create(
        &r, model::Platform::kAdr,
        {std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(image.data()), image.size())},
        &replay);
    ASSERT_TRUE(created.ok()) << created.ToString();
    ASSERT_TRUE(replay->AdvanceTo(r.events.size()).ok());
    explore::CrashStateSpace space;
    ASSERT_TRUE(replay->BuildSpace({}, &space).ok());
    std::vector<uint64_t> undetermined;
    for (const explore::UndeterminedLine& line : space.undetermined) {
      undetermined.push_back(line.gpa);
    }
    EXPECT_EQ(undetermined, guest.undetermined_at_end);
  }
};

TEST_F(QemuPluginRecordTest, RecordsTheWindowBetweenTheMarksEventByEvent) {
  const RecordingGuest guest = MakeRecordingGuest(/*with_end_mark=*/true);
  RunRecordingGuest(guest, "record=" + (dir_ / "rec").string() + ",report=" + report_.string());
  CheckRecording(guest);
  char second[128];
  (void)std::snprintf(second, sizeof second,
                      "nvlab-plugin: record: a second begin mark (pc 0x%llx) is ignored",
                      static_cast<unsigned long long>(guest.second_begin_pc));
  EXPECT_NE(Stderr().find(second), std::string::npos) << Stderr();
  // The model still runs: the guest's cut wrote its report.
  EXPECT_NE(ReadFile(report_).find("\"trigger\": \"guest\""), std::string::npos);
}

TEST_F(QemuPluginRecordTest, APowerCutEndsTheWindowWithoutAnEndMark) {
  const RecordingGuest guest = MakeRecordingGuest(/*with_end_mark=*/false);
  RunRecordingGuest(guest, "record=" + (dir_ / "rec").string());
  CheckRecording(guest);
}

TEST_F(QemuPluginRecordTest, WithoutRecordTheMarksAreNoOps) {
  const RecordingGuest guest = MakeRecordingGuest(/*with_end_mark=*/true);
  RunRecordingGuest(guest, "report=" + report_.string());
  EXPECT_EQ(Stderr().find("nvlab-plugin"), std::string::npos) << Stderr();
  EXPECT_FALSE(fs::exists(dir_ / "rec"));
  EXPECT_NE(ReadFile(report_).find("\"trigger\": \"guest\""), std::string::npos);
}

// The watch guest's handshake lives in RAM at kFlags (the host writes the RAM file):
//   +0  the round the host allows (1, 2)   +8  the round the guest finished
//   +16 line 3 as round 2 read it           +24 line 3 as round 1 read it
constexpr uint64_t kFlags = 0x300000;
constexpr uint64_t kOld = 0x3333333333333333ULL;
constexpr uint64_t kNew = 0x4444444444444444ULL;

// MakeWatchGuest: round 1 reads NVDIMM lines 5, 2, 5 again, 9+10 (one read across both), 3;
// round 2 reads line 3 again, then line 7 by a locked read-modify-write (adding zero).
std::vector<uint8_t> MakeWatchGuest() {
  X86GuestProgram g;
  g.MovImm64(kRdi, kB);
  g.MovImm64(kRsi, kFlags);
  g.WaitUntil(kRsi, 0, 1);
  g.Load64(kRbx, kRdi, 5 * 64);
  g.Load64(kRbx, kRdi, 2 * 64 + 8);
  g.Load64(kRbx, kRdi, 5 * 64 + 56);
  g.Load64(kRbx, kRdi, 9 * 64 + 60);
  g.Load64(kRbx, kRdi, 3 * 64);
  g.Store64(kRbx, kRsi, 24);
  g.MovImm64(kRbx, 1);
  g.Store64(kRbx, kRsi, 8);
  g.WaitUntil(kRsi, 0, 2);
  g.Load64(kRbx, kRdi, 3 * 64);
  g.Store64(kRbx, kRsi, 16);
  g.MovImm64(kRbx, 0);
  g.LockXadd64(kRbx, kRdi, 7 * 64);
  g.MovImm64(kRbx, 2);
  g.Store64(kRbx, kRsi, 8);
  g.HaltForever();
  EXPECT_TRUE(g.Fits());
  return g.Image();
}

TEST_F(QemuPluginRecordTest, WatchLoadsListsTheLinesReadAndTheGuestReadsWhatTheHostWrote) {
  ASSERT_TRUE(WriteWordAt(nvdimm_, 3 * kLine, kOld));
  const std::vector<uint8_t> kernel = MakeWatchGuest();
  Start(MachineArgsFor("watch-loads=on,control=" + control_.string(), false, &kernel,
                       /*with_qmp=*/true));
  QmpClient qmp;
  ASSERT_TRUE(qmp.Connect(qmp_)) << Stderr();
  ASSERT_TRUE(WaitForControlSocket()) << Stderr();
  EXPECT_EQ(Talk(control_, "watch-end " + (dir_ / "w0").string() + "\n"), "error not watching\n");

  // Round 1: the reads in first-read order, each line once.
  EXPECT_EQ(Talk(control_, "watch-begin\n"), "ok\n");
  ASSERT_TRUE(WriteWordAt(ram_, kFlags, 1));
  ASSERT_TRUE(Eventually([&] { return ReadWordAt(ram_, kFlags + 8) == 1; })) << Stderr();
  EXPECT_EQ(Talk(control_, "watch-end " + (dir_ / "w1").string() + "\n"), "ok 5\n");
  EXPECT_EQ(ReadFile(dir_ / "w1"), "0 5\n0 2\n0 9\n0 10\n0 3\n");
  EXPECT_EQ(ReadWordAt(ram_, kFlags + 24), kOld);

  // Between checks the host rewrites the NVDIMM file while the guest is stopped.
  ASSERT_TRUE(qmp.Execute("stop"));
  ASSERT_TRUE(WriteWordAt(nvdimm_, 3 * kLine, kNew));
  EXPECT_EQ(Talk(control_, "watch-begin\n"), "ok\n");
  ASSERT_TRUE(WriteWordAt(ram_, kFlags, 2));
  ASSERT_TRUE(qmp.Execute("cont"));
  ASSERT_TRUE(Eventually([&] { return ReadWordAt(ram_, kFlags + 8) == 2; })) << Stderr();
  EXPECT_EQ(ReadWordAt(ram_, kFlags + 16), kNew);
  EXPECT_EQ(Talk(control_, "watch-end " + (dir_ / "w2").string() + "\n"), "ok 2\n");
  EXPECT_EQ(ReadFile(dir_ / "w2"), "0 3\n0 7\n");

  EXPECT_EQ(Talk(control_, "watch-end\n"), "error watch-end needs a path\n");
  EXPECT_EQ(Talk(control_, "cut\n").rfind("error power cuts are not available", 0), 0u);
  EXPECT_EQ(ReadWordAt(nvdimm_, 3 * kLine), kNew);  // Nothing rewrote the file.
}

// The page cache behind watched loads is exact with one vCPU only (virtual_page_cache.h): a
// machine with more is refused at start, not watched wrongly.
TEST_F(QemuPluginRecordTest, WatchLoadsRefusesAMachineWithTwoVcpus) {
  std::vector<std::string> args = MachineArgsFor("watch-loads=on", false, nullptr);
  args.insert(args.begin() + 1, {"-smp", "2"});
  Start(args);
  EXPECT_NE(Wait(), 0);
  EXPECT_NE(Stderr().find("watch-loads=on needs a machine with one vCPU (this one has 2)"),
            std::string::npos)
      << Stderr();
}

TEST_F(QemuPluginRecordTest, WatchCommandsNeedWatchLoads) {
  Start(MachineArgsFor("control=" + control_.string(), false, nullptr));
  ASSERT_TRUE(WaitForControlSocket()) << Stderr();
  EXPECT_EQ(Talk(control_, "watch-begin\n"), "error watch-loads is off\n");
}

}  // namespace
}  // namespace nvlab::plugin_test
