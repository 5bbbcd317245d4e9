// progress_line_test.cc -- ProgressLine with a fake terminal writer and times of the test's own
// (no ticker thread): nothing before the delay, the line rewritten in place, erased when done,
// nothing at all when disabled.

#include "nvlab/progress_line.h"

#include <gtest/gtest.h>

#include <string>

namespace nvlab {
namespace {

using std::chrono::milliseconds;

struct FakeTerminal {
  std::string bytes;
  ProgressLine::Writer writer() {
    return [this](std::string_view b) { bytes.append(b); };
  }
};

ProgressLine::Options NoTicker(bool enabled = true) {
  ProgressLine::Options o;
  o.enabled = enabled;
  o.ticker = false;
  return o;
}

TEST(ProgressLineTest, ShowsNothingBeforeTheDelayThenRewritesOneLineAndErasesIt) {
  FakeTerminal terminal;
  ProgressLine line(terminal.writer(), NoTicker());
  const auto start = ProgressLine::Clock::now();
  line.Set("booting: QEMU start");
  line.Tick(start + milliseconds(500));
  EXPECT_EQ(terminal.bytes, "");
  line.Tick(start + milliseconds(1500));
  EXPECT_EQ(terminal.bytes, "\rnvlab: booting: QEMU start (1 s)\x1b[K");
  terminal.bytes.clear();
  line.Set("booting: NVDIMM setup");  // the same wait: the seconds go on
  line.Tick(start + milliseconds(3200));
  EXPECT_EQ(terminal.bytes, "\rnvlab: booting: NVDIMM setup (3 s)\x1b[K");
  terminal.bytes.clear();
  line.Done();
  EXPECT_EQ(terminal.bytes, "\r\x1b[K");
  terminal.bytes.clear();
  line.Tick(start + milliseconds(9000));  // no wait: nothing
  line.Done();                            // nothing shown: nothing to erase
  EXPECT_EQ(terminal.bytes, "");
}

TEST(ProgressLineTest, AQuickWaitLeavesNoTrace) {
  FakeTerminal terminal;
  {
    ProgressLine line(terminal.writer(), NoTicker());
    line.Set("fetching packages");
    line.Tick(ProgressLine::Clock::now());
    line.Done();
  }
  EXPECT_EQ(terminal.bytes, "");
}

TEST(ProgressLineTest, ClearErasesAShownLineUntilTheNextTick) {
  FakeTerminal terminal;
  ProgressLine line(terminal.writer(), NoTicker());
  const auto start = ProgressLine::Clock::now();
  line.Set("waiting");
  line.Tick(start + milliseconds(2100));
  terminal.bytes.clear();
  line.Clear();
  EXPECT_EQ(terminal.bytes, "\r\x1b[K");
  line.Clear();  // already erased
  EXPECT_EQ(terminal.bytes, "\r\x1b[K");
}

TEST(ProgressLineTest, DestructionErasesAShownLine) {
  FakeTerminal terminal;
  {
    ProgressLine line(terminal.writer(), NoTicker());
    const auto start = ProgressLine::Clock::now();
    line.Set("waiting");
    line.Tick(start + milliseconds(1100));
  }
  EXPECT_EQ(terminal.bytes, "\rnvlab: waiting (1 s)\x1b[K\r\x1b[K");
}

TEST(ProgressLineTest, DisabledWritesNothing) {
  FakeTerminal terminal;
  ProgressLine line(terminal.writer(), NoTicker(/*enabled=*/false));
  line.Set("waiting");
  line.Tick(ProgressLine::Clock::now() + std::chrono::hours(1));
  line.Clear();
  line.Done();
  EXPECT_EQ(terminal.bytes, "");
}

TEST(ProgressLineTest, NotWantedWithJsonConsoleOrVerbose) {
  EXPECT_FALSE(ProgressWanted(/*json=*/true, false, false));
  EXPECT_FALSE(ProgressWanted(false, /*console=*/true, false));
  EXPECT_FALSE(ProgressWanted(false, false, /*verbose=*/true));
}

}  // namespace
}  // namespace nvlab
