// Tests of the plugin's option parser: every option, and one rejection per bad input.
#include "plugin_options.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace nvlab::plugin {
namespace {

bool Parse(const std::vector<std::string_view>& args, PluginOptions* options, std::string* error) {
  return ParsePluginArguments(args, options, error);
}

TEST(PluginOptionsTest, ParsesEveryOption) {
  PluginOptions o;
  std::string error;
  ASSERT_TRUE(
      Parse({"nvdimm=1:0x140000000:1048576:/tmp/b:with:colons",
             "nvdimm=0:100000000:0x200000:/tmp/a", "ram=0:536870912:/tmp/ram", "persistence=eadr",
             "on-cut=random:7:0.25", "report=/tmp/r.json", "control=/tmp/ctl", "cut-after-fences=3",
             "trace-stores=on", "kernel-task=0x32840:0x738:1424:0x594"},
            &o, &error))
      << error;
  ASSERT_EQ(o.nvdimms.size(), 2u);
  EXPECT_EQ(o.nvdimms[0].index, 0u);
  EXPECT_EQ(o.nvdimms[0].base, 0x100000000u);
  EXPECT_EQ(o.nvdimms[0].size, 0x200000u);
  EXPECT_EQ(o.nvdimms[0].path, "/tmp/a");
  EXPECT_EQ(o.nvdimms[1].base, 0x140000000u);
  EXPECT_EQ(o.nvdimms[1].path, "/tmp/b:with:colons");
  ASSERT_EQ(o.ram.size(), 1u);
  EXPECT_EQ(o.ram[0].size, 536870912u);
  EXPECT_EQ(o.persistence, model::Platform::kEadr);
  EXPECT_EQ(o.on_cut.kind, model::CutPolicy::Kind::kRandom);
  EXPECT_EQ(o.on_cut.seed, 7u);
  EXPECT_EQ(o.on_cut_text, "random:7:0.25");
  EXPECT_EQ(o.report_path, "/tmp/r.json");
  EXPECT_EQ(o.control_path, "/tmp/ctl");
  EXPECT_EQ(o.cut_after_fences, 3u);
  EXPECT_EQ(o.trace_stores, PluginOptions::TraceStores::kAll);
  ASSERT_TRUE(o.kernel_task.has_value());
  EXPECT_EQ(o.kernel_task->current_task_offset, 0x32840u);
  EXPECT_EQ(o.kernel_task->comm_offset, 0x738u);
  EXPECT_EQ(o.kernel_task->pid_offset, 1424u);
  EXPECT_EQ(o.kernel_task->tgid_offset, 0x594u);
}

TEST(PluginOptionsTest, TraceStoresTakesUserAndTheBooleans) {
  PluginOptions o;
  std::string error;
  ASSERT_TRUE(Parse({"nvdimm=0:100000000:4096:/f", "trace-stores=user"}, &o, &error)) << error;
  EXPECT_EQ(o.trace_stores, PluginOptions::TraceStores::kUser);
  ASSERT_TRUE(Parse({"nvdimm=0:100000000:4096:/f", "trace-stores=no"}, &o, &error)) << error;
  EXPECT_EQ(o.trace_stores, PluginOptions::TraceStores::kOff);
}

TEST(PluginOptionsTest, RecordTakesAPathAndWatchLoadsAnOnOff) {
  PluginOptions o;
  std::string error;
  ASSERT_TRUE(Parse({"nvdimm=0:100000000:4096:/f", "record=/tmp/run/rec:1"}, &o, &error)) << error;
  EXPECT_EQ(o.record_path, "/tmp/run/rec:1");
  EXPECT_FALSE(o.watch_loads);
  ASSERT_TRUE(Parse({"nvdimm=0:100000000:4096:/f", "watch-loads=on", "control=/tmp/c",
                     "persistence=eadr", "report=/tmp/r"},
                    &o, &error))
      << error;
  EXPECT_TRUE(o.watch_loads);
  EXPECT_TRUE(o.record_path.empty());
  ASSERT_TRUE(Parse({"nvdimm=0:100000000:4096:/f", "watch-loads=off"}, &o, &error)) << error;
  EXPECT_FALSE(o.watch_loads);
}

TEST(PluginOptionsTest, DefaultsAreAdrLoseNoReportNoControl) {
  PluginOptions o;
  std::string error;
  ASSERT_TRUE(Parse({"nvdimm=0:100000000:4096:/f"}, &o, &error)) << error;
  EXPECT_EQ(o.persistence, model::Platform::kAdr);
  EXPECT_EQ(o.on_cut.kind, model::CutPolicy::Kind::kLose);
  EXPECT_TRUE(o.report_path.empty());
  EXPECT_TRUE(o.control_path.empty());
  EXPECT_EQ(o.cut_after_fences, 0u);
  EXPECT_EQ(o.trace_stores, PluginOptions::TraceStores::kOff);
  EXPECT_FALSE(o.kernel_task.has_value());
  EXPECT_TRUE(o.record_path.empty());
  EXPECT_FALSE(o.watch_loads);
}

struct BadOptions {
  std::string name;
  std::vector<std::string> args;
  std::string named;  // The error must name this.
};

class BadPluginOptionsTest : public ::testing::TestWithParam<BadOptions> {};

TEST_P(BadPluginOptionsTest, AreRejectedWithAMessageNamingThem) {
  PluginOptions o;
  std::string error;
  std::vector<std::string_view> args(GetParam().args.begin(), GetParam().args.end());
  EXPECT_FALSE(Parse(args, &o, &error));
  EXPECT_NE(error.find(GetParam().named), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

const char* const kGood = "nvdimm=0:100000000:4096:/f";

INSTANTIATE_TEST_SUITE_P(
    Table, BadPluginOptionsTest,
    ::testing::Values(
        BadOptions{"UnknownKey", {kGood, "bogus=1"}, "unknown option 'bogus=1'"},
        BadOptions{"NoEquals", {kGood, "trace-stores"}, "'trace-stores'"},
        BadOptions{"MissingNvdimm", {"persistence=adr"}, "missing option 'nvdimm="},
        BadOptions{"NvdimmTooFewFields", {"nvdimm=0:100000000:4096"}, "nvdimm=0:100000000:4096"},
        BadOptions{"NvdimmBadBase", {"nvdimm=0:xyz:4096:/f"}, "nvdimm=0:xyz"},
        BadOptions{"NvdimmZeroSize", {"nvdimm=0:100000000:0:/f"}, "nvdimm=0:100000000:0"},
        BadOptions{"NvdimmEmptyPath", {"nvdimm=0:100000000:4096:"}, "nvdimm=0:100000000:4096:"},
        BadOptions{"NvdimmUnalignedBase", {"nvdimm=0:100000020:4096:/f"}, "multiples of 64"},
        BadOptions{"NvdimmUnalignedSize", {"nvdimm=0:100000000:100:/f"}, "multiples of 64"},
        BadOptions{"NvdimmNegativeIndex", {"nvdimm=-1:100000000:4096:/f"}, "nvdimm=-1"},
        BadOptions{"NvdimmIndexGap", {"nvdimm=1:100000000:4096:/f"}, "nvdimm=1"},
        BadOptions{"NvdimmIndexTwice", {kGood, kGood}, "nvdimm=0"},
        BadOptions{"RamBad", {kGood, "ram=0:/f"}, "ram=0:/f"},
        BadOptions{"PersistenceBad", {kGood, "persistence=ADR"}, "persistence=ADR"},
        BadOptions{"OnCutBad", {kGood, "on-cut=maybe"}, "on-cut=maybe"},
        BadOptions{"OnCutBadProbability", {kGood, "on-cut=random:1:2"}, "on-cut=random:1:2"},
        BadOptions{"ReportEmpty", {kGood, "report="}, "report="},
        BadOptions{"ControlTooLong", {kGood, "control=/" + std::string(120, 'x')}, "control=/"},
        BadOptions{"CutAfterFencesZero", {kGood, "cut-after-fences=0"}, "cut-after-fences=0"},
        BadOptions{"CutAfterFencesText", {kGood, "cut-after-fences=ten"}, "cut-after-fences=ten"},
        BadOptions{"TraceStoresBad", {kGood, "trace-stores=maybe"}, "trace-stores=maybe"},
        BadOptions{"KernelTaskTooFewFields", {kGood, "kernel-task=1:2:3"}, "kernel-task=1:2:3"},
        BadOptions{"KernelTaskText", {kGood, "kernel-task=a:b:c:d"}, "kernel-task=a:b:c:d"},
        BadOptions{"RecordEmpty", {kGood, "record="}, "record="},
        BadOptions{"WatchLoadsBad", {kGood, "watch-loads=maybe"}, "watch-loads=maybe"},
        BadOptions{"WatchLoadsWithRecord", {kGood, "watch-loads=on", "record=/r"}, "'record=...'"},
        BadOptions{"WatchLoadsWithCutAfterFences",
                   {kGood, "cut-after-fences=2", "watch-loads=on"},
                   "'cut-after-fences=...'"},
        BadOptions{"WatchLoadsWithTraceStores",
                   {kGood, "watch-loads=on", "trace-stores=user"},
                   "'trace-stores=...'"},
        BadOptions{"KernelTaskHugeOffset",
                   {kGood, "kernel-task=0x100:0x10000:0x590:0x594"},
                   "kernel-task=0x100:0x10000"}),
    [](const ::testing::TestParamInfo<BadOptions>& info) { return info.param.name; });

}  // namespace
}  // namespace nvlab::plugin
