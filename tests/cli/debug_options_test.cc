// debug_options_test.cc -- the debugging aids on the command line (--keep, --console,
// --gdb[=PORT]) and nvlab doctor's: what they parse to and the usage errors that span options.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_options.h"

namespace nvlab {
namespace {

using Args = std::vector<std::string>;

CliOptions Parsed(const Args& args) {
  const ParsedCommandLine r = ParseCommandLine(args);
  EXPECT_EQ(r.status, CommandLineStatus::kOk) << r.text;
  return r.options;
}

std::string UsageError(const Args& args) {
  const ParsedCommandLine r = ParseCommandLine(args);
  EXPECT_EQ(r.status, CommandLineStatus::kUsageError);
  return r.text;
}

TEST(DebugOptionsTest, NoneByDefault) {
  const CliOptions o = Parsed({"run", "--", "true"});
  EXPECT_FALSE(o.debug.keep);
  EXPECT_FALSE(o.debug.console);
  EXPECT_EQ(o.debug.gdb_port, 0);
}

TEST(DebugOptionsTest, KeepAndConsoleOnRunAndPowerCycle) {
  const CliOptions run = Parsed({"run", "--keep", "--console", "--", "true"});
  EXPECT_TRUE(run.debug.keep);
  EXPECT_TRUE(run.debug.console);
  const CliOptions cycle =
      Parsed({"power-cycle", "--keep", "--console", "--before", "true", "--after", "true"});
  EXPECT_TRUE(cycle.debug.keep);
  EXPECT_TRUE(cycle.debug.console);
}

TEST(DebugOptionsTest, GdbTakesAnOptionalPort) {
  EXPECT_EQ(Parsed({"run", "--gdb", "--", "true"}).debug.gdb_port, kDefaultGdbPort);
  EXPECT_EQ(Parsed({"run", "--gdb=4321", "--", "true"}).debug.gdb_port, 4321);
  EXPECT_EQ(Parsed({"power-cycle", "--gdb", "--before", "true", "--after", "true"}).debug.gdb_port,
            kDefaultGdbPort);
  EXPECT_NE(UsageError({"run", "--gdb=0", "--", "true"}).find("expected a TCP port"),
            std::string::npos);
  EXPECT_NE(UsageError({"run", "--gdb=70000", "--", "true"}).find("expected a TCP port"),
            std::string::npos);
}

TEST(DebugOptionsTest, NotWithDomainNorKeepOrConsoleWithDryRun) {
  EXPECT_NE(UsageError({"run", "--domain", "d", "--keep", "--", "true"})
                .find("--keep cannot be used with --domain"),
            std::string::npos);
  EXPECT_NE(UsageError({"run", "--dry-run", "--console", "--", "true"})
                .find("--console does not apply to --dry-run"),
            std::string::npos);
  EXPECT_EQ(Parsed({"run", "--dry-run", "--gdb", "--", "true"}).debug.gdb_port, kDefaultGdbPort);
}

TEST(DebugOptionsTest, OnlyOnRunAndPowerCycle) {
  EXPECT_NE(UsageError({"demo", "--keep"}).find("--keep"), std::string::npos);
}

TEST(DoctorOptionsTest, DoctorTakesJsonOnly) {
  const CliOptions o = Parsed({"doctor", "--json"});
  EXPECT_EQ(o.subcommand, Subcommand::kDoctor);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(Parsed({"doctor"}).subcommand, Subcommand::kDoctor);
  EXPECT_NE(UsageError({"doctor", "--cold"}).find("nvlab doctor takes only --json"),
            std::string::npos);
}

}  // namespace
}  // namespace nvlab
