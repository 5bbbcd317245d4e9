// exploration_html_test.cc -- nvlab explore's HTML page: escaped guest text, a timeline with the
// writes that did not persist marked, and the page as headless Chromium renders it.

#include "nvlab/exploration/exploration_html.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "nvlab/subprocess.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using explore::StateCount;

ExplorationResult Sample() {
  ExplorationResult r;
  r.check = "check <x> & 'y'";
  r.seconds = 3.5;
  r.recorded_events = 9;
  r.totals.crash_points = 2;
  r.totals.visited = 4;
  r.totals.distinct = 4;
  r.totals.failed_visits = 1;
  r.totals.failed_states = StateCount(1);
  ExplorationFailure f;
  f.crash_point = 6;
  f.fence_pc = 0x401100;
  f.represented = StateCount(1);
  f.verdict = "exit 1";
  f.check_output = "inconsistent: <script>alert(1)</script>\x1b[2J\n";
  FailedLine in;
  in.gpa = 0x100000000;
  in.candidate = 1;
  in.candidates = 2;
  in.persisted = true;
  FailedLine out;
  out.gpa = 0x100000080;
  out.candidates = 2;
  out.missed = {{2, explore::EventKind::kStore, 0x100000080, 0x401010, 7, "writer", "put<T>+0x10"}};
  f.lines = {in, out};
  f.timeline = {
      {2, explore::EventKind::kStore, 0, 0x100000080, 8, false, 0x401010, "writer", "put<T>+0x10",
       true},
      {4, explore::EventKind::kStore, 0, 0x100000000, 8, false, 0x401020, "writer", "", false},
      {5, explore::EventKind::kFlush, 0, 0x100000000, 0, false, 0x401030, "", "", false},
  };
  r.failures = {f};
  return r;
}

TEST(ExplorationHtml, EscapesGuestTextAndMarksTheMissedWrites) {
  const std::string html = ExplorationHtml(Sample());
  EXPECT_EQ(html.find("<script>"), std::string::npos) << "guest text must not become markup";
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(html.find('\x1b'), std::string::npos);
  EXPECT_NE(html.find("check &lt;x&gt; &amp; &#39;y&#39;"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"store missed\"><td>2</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<tr class=\"cut\">"), std::string::npos);
  // A symbol from a host file is text too.
  EXPECT_NE(html.find("0x401010 <span class=\"symbol\">put&lt;T&gt;+0x10</span>"),
            std::string::npos)
      << html;
  EXPECT_EQ(HtmlText("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

// Chromium parses the page into the document a reader sees: one failure section, the timeline's
// rows with the missed store marked, and nothing of the guest's output run as markup.
TEST(ExplorationHtml, RendersInHeadlessChromium) {
  if (access("/usr/bin/chromium", X_OK) != 0) GTEST_SKIP() << "chromium is not installed";
  std::string dir_template = (fs::temp_directory_path() / "nvlab-html-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  const fs::path dir = dir_template;
  const fs::path page = dir / "report.html";
  std::ofstream(page) << ExplorationHtml(Sample());
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kCapture;
  options.stderr_to = SubprocessOptions::Stream::kNull;
  options.new_process_group = true;
  // HOME in the folder: Chromium writes its profile there, not in the user's home.
  options.env_overrides = {"HOME=" + dir.string()};
  Subprocess chromium;
  ASSERT_TRUE(
      Subprocess::Start({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                         "--screenshot=" + (dir / "page.png").string(), "--window-size=1200,1400",
                         "--dump-dom", "file://" + page.string()},
                        options, &chromium)
          .ok());
  ASSERT_TRUE(chromium.Wait(Deadline::In(std::chrono::seconds(120))).ok());
  const std::string dom = chromium.stdout_text();
  EXPECT_NE(dom.find("<section class=\"failure\" id=\"failure-1\">"), std::string::npos) << dom;
  EXPECT_NE(dom.find("<tr class=\"store missed\">"), std::string::npos) << dom;
  EXPECT_NE(dom.find("did not persist"), std::string::npos);
  EXPECT_EQ(dom.find("<script>"), std::string::npos);
  EXPECT_GT(fs::file_size(dir / "page.png"), 1000u) << "the screenshot of the rendered page";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nvlab
