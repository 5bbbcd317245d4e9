// cli_options_test.cc -- ParseCommandLine, the nvlab command line, with no guest and no image:
// every command, every option's good and bad values (with the exact message), unknown options,
// missing values, rules across options, the guest command after "--", --help and --version, and
// --on-cut agreeing with the persistence model's own parser.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cli_options.h"
#include "nvlab/model/cut_policy.h"

namespace nvlab {
namespace {

using Args = std::vector<std::string>;

// RunWith is `nvlab run OPTIONS -- true`.
Args RunWith(Args options) {
  Args args = {"run"};
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {"--", "true"});
  return args;
}

// Parsed expects args to parse and returns the options.
CliOptions Parsed(const Args& args) {
  const ParsedCommandLine r = ParseCommandLine(args);
  EXPECT_EQ(r.status, CommandLineStatus::kOk) << r.text;
  EXPECT_EQ(r.text, "");
  return r.options;
}

// UsageError expects args to be a usage error and returns its message.
std::string UsageError(const Args& args) {
  const ParsedCommandLine r = ParseCommandLine(args);
  EXPECT_EQ(r.status, CommandLineStatus::kUsageError) << r.text;
  EXPECT_EQ(r.text.find('\n'), std::string::npos) << "one line: " << r.text;
  return r.text;
}

// NeedsTheModel is the usage error for an option (and its value) that acts through the
// persistence model when `turned_off_by` (--accel kvm or --model off) turns the model off.
std::string NeedsTheModel(const Args& option, const std::string& turned_off_by) {
  return option[0] + " " + option[1] + " needs the persistence model, which " + turned_off_by +
         " turns off (try nvlab run --help)";
}

std::string Help(const Args& args) {
  const ParsedCommandLine r = ParseCommandLine(args);
  EXPECT_EQ(r.status, CommandLineStatus::kHelp) << r.text;
  return r.text;
}

// -------------------------------------------------------------------------------- commands

TEST(CommandLineTest, EachCommandIsRecognised) {
  EXPECT_EQ(Parsed({"image"}).subcommand, Subcommand::kImage);
  EXPECT_EQ(Parsed({"run", "--", "true"}).subcommand, Subcommand::kRun);
  EXPECT_EQ(Parsed({"power-cycle", "--before", "a", "--after", "b"}).subcommand,
            Subcommand::kPowerCycle);
  EXPECT_EQ(Parsed({"demo"}).subcommand, Subcommand::kDemo);
  EXPECT_EQ(Parsed({"machine", "default", "--libvirt-xml"}).subcommand, Subcommand::kMachine);
  EXPECT_EQ(Parsed({"campaign", "c.campaign"}).subcommand, Subcommand::kCampaign);
  EXPECT_EQ(Parsed({"campaign", "merge", "s.json"}).subcommand, Subcommand::kCampaignMerge);
  EXPECT_EQ(Parsed({"shell"}).subcommand, Subcommand::kShell);
}

TEST(CommandLineTest, DefaultsAreTheDocumentedOnes) {
  const CliOptions o = Parsed({"run", "--", "true"});
  EXPECT_EQ(o.machine, "default");
  EXPECT_TRUE(o.nvdimm_sizes.empty());
  EXPECT_FALSE(o.namespace_mode.has_value());
  EXPECT_FALSE(o.filesystem.has_value());
  EXPECT_FALSE(o.persistence.has_value());
  EXPECT_EQ(o.share_dir, "");
  EXPECT_TRUE(o.nvdimm_images.empty());
  EXPECT_EQ(o.accel, Accel::kTcg);
  EXPECT_FALSE(o.model.has_value());
  EXPECT_EQ(o.on_cut, "lose");
  EXPECT_EQ(o.on_cut_policy.kind, model::CutPolicy::Kind::kLose);
  EXPECT_EQ(o.cut_after_fences, 0u);
  EXPECT_EQ(o.trace_stores, "off");
  EXPECT_FALSE(o.deterministic);
  EXPECT_EQ(o.timeout_seconds, 300);
  EXPECT_EQ(o.timeout_seconds, kDefaultTimeoutSeconds);
  EXPECT_FALSE(o.json);
  EXPECT_FALSE(o.verbose);
  EXPECT_EQ(o.before, "");
  EXPECT_EQ(o.after, "");
  EXPECT_FALSE(o.dry_run);
  EXPECT_FALSE(o.libvirt_xml);
  EXPECT_EQ(o.domain_name, "");
  EXPECT_EQ(o.domain_dir, "");
}

TEST(CommandLineTest, NoCommandIsAUsageError) {
  EXPECT_EQ(UsageError({}), "no command given (try nvlab --help)");
  EXPECT_EQ(UsageError({"--json"}), "no command given (try nvlab --help)");
  EXPECT_EQ(UsageError({"--", "true"}), "no command given (try nvlab --help)");
}

TEST(CommandLineTest, AnUnknownCommandIsNamed) {
  EXPECT_EQ(UsageError({"frobnicate"}), "unknown command 'frobnicate' (try nvlab --help)");
  EXPECT_EQ(UsageError({"Run", "--", "true"}), "unknown command 'Run' (try nvlab --help)");
}

// ------------------------------------------------------------------ the guest command (run)

TEST(CommandLineTest, RunTakesEverythingAfterTheFirstSeparatorAsTheCommand) {
  EXPECT_EQ(Parsed({"run", "--", "echo hi"}).command, Args({"echo hi"}));
  EXPECT_EQ(Parsed({"run", "--json", "--", "sh", "-c", "x", "sh", "a b"}).command,
            Args({"sh", "-c", "x", "sh", "a b"}));
  // Words after "--" are the guest's, even when they look like nvlab's options.
  const CliOptions o = Parsed({"run", "--", "prog", "--timeout", "bogus", "--", "-v", "--help"});
  EXPECT_EQ(o.command, Args({"prog", "--timeout", "bogus", "--", "-v", "--help"}));
  EXPECT_EQ(o.timeout_seconds, 300);
  EXPECT_FALSE(o.verbose);
}

TEST(CommandLineTest, RunWithoutACommandIsAUsageError) {
  const std::string want =
      "nvlab run needs a command: nvlab run [OPTIONS] -- CMD ARGS... (try nvlab run --help)";
  EXPECT_EQ(UsageError({"run"}), want);
  EXPECT_EQ(UsageError({"run", "--"}), want);
  EXPECT_EQ(UsageError({"run", "--json", "--"}), want);
}

TEST(CommandLineTest, RunWithACommandButNoSeparatorSaysWhereItGoes) {
  EXPECT_EQ(UsageError({"run", "echo", "hi"}),
            "unexpected argument 'echo': the guest command goes after '--' (nvlab run [OPTIONS] "
            "-- CMD ARGS...) (try nvlab run --help)");
  EXPECT_EQ(UsageError({"run", "--json", "true", "--", "x"}),
            "unexpected argument 'true': the guest command goes after '--' (nvlab run [OPTIONS] "
            "-- CMD ARGS...) (try nvlab run --help)");
}

TEST(CommandLineTest, TheSeparatorBelongsToRunOnly) {
  EXPECT_EQ(UsageError({"image", "--", "true"}),
            "'--' only goes before the command of nvlab run (try nvlab image --help)");
  EXPECT_EQ(UsageError({"demo", "--", "true"}),
            "'--' only goes before the command of nvlab run (try nvlab demo --help)");
  EXPECT_EQ(UsageError({"power-cycle", "--before", "a", "--after", "b", "--", "c"}),
            "'--' only goes before the command of nvlab run (try nvlab power-cycle --help)");
}

TEST(CommandLineTest, OtherCommandsTakeNoArguments) {
  EXPECT_EQ(UsageError({"image", "extra"}),
            "unexpected argument 'extra' for nvlab image (try nvlab image --help)");
  EXPECT_EQ(UsageError({"demo", "run"}),
            "unexpected argument 'run' for nvlab demo (try nvlab demo --help)");
}

// ------------------------------------------------------------------------------ power-cycle

TEST(CommandLineTest, PowerCycleTakesBeforeAndAfter) {
  const CliOptions o =
      Parsed({"power-cycle", "--before", "write $NVLAB_PMEM", "--after", "check $NVLAB_PMEM"});
  EXPECT_EQ(o.before, "write $NVLAB_PMEM");
  EXPECT_EQ(o.after, "check $NVLAB_PMEM");
  EXPECT_TRUE(o.command.empty());
  // In either order, with =, and with values that look like options.
  const CliOptions p = Parsed({"power-cycle", "--after=-x", "--json", "--before", "--after"});
  EXPECT_EQ(p.before, "--after");
  EXPECT_EQ(p.after, "-x");
  EXPECT_TRUE(p.json);
  // An empty command is a command (sh -c '').
  EXPECT_EQ(Parsed({"power-cycle", "--before", "", "--after", ""}).before, "");
}

TEST(CommandLineTest, PowerCycleNeedsBothCommands) {
  const std::string want =
      "nvlab power-cycle needs --before CMD and --after CMD (try nvlab power-cycle --help)";
  EXPECT_EQ(UsageError({"power-cycle"}), want);
  EXPECT_EQ(UsageError({"power-cycle", "--before", "true"}), want);
  EXPECT_EQ(UsageError({"power-cycle", "--after", "true"}), want);
}

TEST(CommandLineTest, BeforeAndAfterBelongToPowerCycleOnly) {
  EXPECT_EQ(UsageError({"run", "--before", "x", "--", "true"}),
            "unknown option '--before' for nvlab run (try nvlab run --help)");
  EXPECT_EQ(UsageError({"demo", "--after", "x"}),
            "unknown option '--after' for nvlab demo (try nvlab demo --help)");
}

// -------------------------------------------------------------------------------- --dry-run

TEST(CommandLineTest, DryRunBelongsToRunAndPowerCycle) {
  EXPECT_TRUE(Parsed({"run", "--dry-run", "--", "true"}).dry_run);
  EXPECT_TRUE(Parsed({"power-cycle", "--before", "a", "--after", "b", "--dry-run"}).dry_run);
  EXPECT_FALSE(Parsed({"run", "--dry-run=false", "--", "true"}).dry_run);
  // The rest of run's rules still hold.
  EXPECT_EQ(UsageError({"run", "--dry-run"}),
            "nvlab run needs a command: nvlab run [OPTIONS] -- CMD ARGS... (try nvlab run --help)");
  EXPECT_EQ(UsageError({"power-cycle", "--dry-run", "--before", "a"}),
            "nvlab power-cycle needs --before CMD and --after CMD (try nvlab power-cycle --help)");
  EXPECT_EQ(UsageError({"image", "--dry-run"}),
            "unknown option '--dry-run' for nvlab image (try nvlab image --help)");
  EXPECT_EQ(UsageError({"demo", "--dry-run"}),
            "unknown option '--dry-run' for nvlab demo (try nvlab demo --help)");
  EXPECT_EQ(UsageError({"run", "--dry-run", "--json", "--", "true"}),
            "--json does not apply to --dry-run (try nvlab run --help)");
}

// --------------------------------------------------------------------------------- shell

TEST(CommandLineTest, ShellTakesPowerCycleAndTheLabOptions) {
  const CliOptions plain = Parsed({"shell"});
  EXPECT_EQ(plain.subcommand, Subcommand::kShell);
  EXPECT_FALSE(plain.shell_power_cycle);
  EXPECT_FALSE(plain.timeout_given);  // shell: no whole-run limit unless given
  const CliOptions o = Parsed({"shell", "--power-cycle", "--cold", "--machine", "m", "--share", "d",
                               "--nvdimm-image", "f", "--model", "off", "--timeout", "600"});
  EXPECT_TRUE(o.shell_power_cycle);
  EXPECT_TRUE(o.cold);
  EXPECT_EQ(o.machine, "m");
  EXPECT_EQ(o.share_dir, "d");
  EXPECT_TRUE(o.timeout_given);
  EXPECT_EQ(o.timeout_seconds, 600);
  EXPECT_EQ(UsageError({"shell", "--json"}),
            "--json does not apply to nvlab shell (an interactive terminal) (try nvlab shell "
            "--help)");
  EXPECT_EQ(UsageError({"shell", "--", "ls"}),
            "'--' only goes before the command of nvlab run (try nvlab shell --help)");
  EXPECT_EQ(UsageError({"run", "--power-cycle", "--", "true"}),
            "unknown option '--power-cycle' for nvlab run (try nvlab run --help)");
}

TEST(CommandLineTest, HelpOfShellSaysHowItEndsAndWhatTimeoutDoes) {
  const ParsedCommandLine r = ParseCommandLine({"shell", "--help"});
  ASSERT_EQ(r.status, CommandLineStatus::kHelp);
  EXPECT_NE(r.text.find("usage: nvlab shell [--power-cycle] [OPTIONS]"), std::string::npos)
      << r.text;
  EXPECT_NE(r.text.find("--power-cycle"), std::string::npos) << r.text;
  // The help is wrapped: read it as one line of words.
  std::string words;
  for (const char c : r.text) {
    if (c != '\n' && c != ' ') {
      words += c;
    } else if (!words.empty() && words.back() != ' ') {
      words += ' ';
    }
  }
  EXPECT_NE(words.find("nvlab-powercut"), std::string::npos) << r.text;
  EXPECT_NE(words.find("--timeout: 86400 unless given"), std::string::npos) << r.text;
}

// ------------------------------------------------------------------------------- machine

TEST(CommandLineTest, MachineTakesTheMachineAndTheDomainsNameAndFolder) {
  CliOptions o = Parsed({"machine", "eadr", "--libvirt-xml"});
  EXPECT_EQ(o.machine, "eadr");
  EXPECT_TRUE(o.libvirt_xml);
  EXPECT_EQ(o.domain_name, "");
  EXPECT_EQ(o.domain_dir, "");
  o = Parsed({"machine",
              "--libvirt-xml",
              "/srv/m/x.machine",
              "--domain-name",
              "lab-1.a_b",
              "--domain-dir",
              "/srv/domains/lab-1",
              "--nvdimm-image",
              "/srv/a.img",
              "--persistence",
              "eadr",
              "--on-cut",
              "keep",
              "--model",
              "on",
              "--trace-stores",
              "user",
              "--nvdimm",
              "4M",
              "--namespace",
              "fsdax",
              "-v"});
  EXPECT_EQ(o.machine, "/srv/m/x.machine");
  EXPECT_EQ(o.domain_name, "lab-1.a_b");
  EXPECT_EQ(o.domain_dir, "/srv/domains/lab-1");
  EXPECT_EQ(o.nvdimm_images, Args({"/srv/a.img"}));
  EXPECT_EQ(o.persistence, Persistence::kEadr);
  EXPECT_EQ(o.on_cut, "keep");
  EXPECT_EQ(o.trace_stores, "user");
  EXPECT_EQ(o.nvdimm_sizes, std::vector<uint64_t>({4u << 20}));
  EXPECT_TRUE(o.verbose);
  // Lab options before the command work here too.
  EXPECT_EQ(Parsed({"--persistence", "adr", "machine", "default", "--libvirt-xml"}).persistence,
            Persistence::kAdr);
}

TEST(CommandLineTest, MachineUsageErrors) {
  const std::string usage = "nvlab machine NAME|FILE --libvirt-xml [OPTIONS]";
  const std::string help = " (try nvlab machine --help)";
  EXPECT_EQ(UsageError({"machine", "--libvirt-xml"}),
            "nvlab machine needs a machine: " + usage + help);
  EXPECT_EQ(UsageError({"machine", "default"}),
            "nvlab machine needs --libvirt-xml (the only rendering so far): " + usage + help);
  EXPECT_EQ(UsageError({"machine", "default", "--libvirt-xml", "--machine", "eadr"}),
            "nvlab machine takes the machine as its argument, not --machine: " + usage + help);
  EXPECT_EQ(UsageError({"machine", "a", "b", "--libvirt-xml"}),
            "unexpected argument 'b' for nvlab machine" + help);
  for (const Args& option :
       {Args{"--share", "/tmp"}, Args{"--accel", "tcg"}, Args{"--cut-after-fences", "3"},
        Args{"--deterministic"}, Args{"--json"}, Args{"--cold"}}) {
    Args args = {"machine", "default", "--libvirt-xml"};
    args.insert(args.end(), option.begin(), option.end());
    EXPECT_EQ(UsageError(args), option[0] + " does not apply to a libvirt domain" + help);
  }
  for (const char* bad : {"", ".x", "-x", "a b", "a/b", "\xc3\xa9"}) {
    EXPECT_EQ(UsageError({"machine", "default", "--libvirt-xml", "--domain-name", bad}),
              "--domain-name: bad value '" + std::string(bad) +
                  "' (expected 1 to 48 of A-Z a-z 0-9 _ . -, not starting with . or -)" + help);
  }
  EXPECT_EQ(
      UsageError({"machine", "default", "--libvirt-xml", "--domain-name", std::string(49, 'x')})
          .substr(0, 26),
      "--domain-name: bad value '");
  EXPECT_EQ(UsageError({"machine", "default", "--libvirt-xml", "--domain-dir", ""}),
            "--domain-dir: bad value '' (expected a folder)" + help);
  EXPECT_EQ(UsageError({"machine", "default", "--libvirt-xml", "--dry-run"}),
            "unknown option '--dry-run' for nvlab machine" + help);
  EXPECT_EQ(UsageError({"run", "--libvirt-xml", "--", "true"}),
            "unknown option '--libvirt-xml' for nvlab run (try nvlab run --help)");
}

// ---------------------------------------------------------------------- libvirt domains

TEST(CommandLineTest, DomainAndConnectGoWithRunAndPowerCycle) {
  const CliOptions run = Parsed({"run", "--domain", "lab-1", "--", "true"});
  EXPECT_EQ(run.domain, "lab-1");
  EXPECT_EQ(run.connect_uri, "");
  const CliOptions cycle = Parsed({"power-cycle", "--domain=lab-2", "--connect", "qemu:///system",
                                   "--before", "a", "--after", "b"});
  EXPECT_EQ(cycle.subcommand, Subcommand::kPowerCycle);
  EXPECT_EQ(cycle.domain, "lab-2");
  EXPECT_EQ(cycle.connect_uri, "qemu:///system");
  EXPECT_EQ(
      Parsed({"run", "--connect", "qemu:///session", "--domain", "d", "--", "true"}).connect_uri,
      "qemu:///session");
}

TEST(CommandLineTest, DomainDefaultsToNone) {
  const CliOptions o = Parsed({"run", "--", "true"});
  EXPECT_EQ(o.domain, "");
  EXPECT_EQ(o.connect_uri, "");
}

TEST(CommandLineTest, DomainTakesTheOptionsThatDoNotShapeTheGuest) {
  const CliOptions o =
      Parsed({"run", "--domain", "d", "--timeout", "30", "--json", "-v", "--", "true"});
  EXPECT_EQ(o.timeout_seconds, 30);
  EXPECT_TRUE(o.json);
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(Parsed({"--json", "run", "--domain", "d", "--", "true"}).domain, "d");
}

TEST(CommandLineTest, DomainAndConnectBelongToRunAndPowerCycleOnly) {
  EXPECT_EQ(UsageError({"image", "--domain", "d"}),
            "unknown option '--domain' for nvlab image (try nvlab image --help)");
  EXPECT_EQ(UsageError({"demo", "--connect", "qemu:///system"}),
            "unknown option '--connect' for nvlab demo (try nvlab demo --help)");
}

TEST(CommandLineTest, DomainAndConnectNeedValues) {
  EXPECT_EQ(UsageError({"run", "--domain=", "--", "true"}),
            "--domain: bad value '' (expected a libvirt domain name) (try nvlab run --help)");
  EXPECT_EQ(UsageError({"run", "--domain", "d", "--connect="}),
            "--connect: bad value '' (expected a libvirt URI) (try nvlab run --help)");
  EXPECT_EQ(UsageError({"power-cycle", "--before", "a", "--after", "b", "--domain"}),
            "--domain needs a value (try nvlab power-cycle --help)");
}

TEST(CommandLineTest, ConnectNeedsDomain) {
  EXPECT_EQ(UsageError({"run", "--connect", "qemu:///system", "--", "true"}),
            "--connect only goes with --domain (try nvlab run --help)");
}

TEST(CommandLineTest, ColdIsRefusedWithDomainAndCampaign) {
  EXPECT_EQ(UsageError({"run", "--domain", "d", "--cold", "--", "true"}),
            "--cold cannot be used with --domain: libvirt boots the domain itself, always from its "
            "kernel (try nvlab run --help)");
  EXPECT_NE(UsageError({"campaign", "x.campaign", "--cold"})
                .find("--cold: nvlab campaign takes no lab options"),
            std::string::npos);
}

TEST(CommandLineTest, OptionsThatShapeAGuestAreRefusedWithDomain) {
  const std::vector<Args> refused = {
      {"--machine", "default"},    {"--nvdimm", "256M"},      {"--namespace", "fsdax"},
      {"--filesystem", "xfs"},     {"--persistence", "eadr"}, {"--share", "/tmp"},
      {"--nvdimm-image", "x.img"}, {"--accel", "tcg"},        {"--model", "on"},
      {"--on-cut", "keep"},        {"--deterministic"},       {"--cut-after-fences", "3"},
      {"--trace-stores", "user"}};
  for (const Args& option : refused) {
    Args run = {"run", "--domain", "d"};
    run.insert(run.end(), option.begin(), option.end());
    run.insert(run.end(), {"--", "true"});
    EXPECT_EQ(UsageError(run),
              option[0] +
                  " cannot be used with --domain: the libvirt domain's definition fixes the "
                  "machine (give it to `nvlab machine --libvirt-xml` instead) (try nvlab run "
                  "--help)");
    // Before the command too (lab options fall through), and on power-cycle.
    Args cycle = option;
    cycle.insert(cycle.end(), {"power-cycle", "--domain", "d", "--before", "a", "--after", "b"});
    EXPECT_NE(UsageError(cycle).find(option[0] + " cannot be used with --domain"),
              std::string::npos);
  }
}

TEST(CommandLineTest, HelpOfRunAndPowerCycleShowsDomain) {
  for (const char* command : {"run", "power-cycle"}) {
    const std::string help = Help({command, "--help"});
    EXPECT_NE(help.find("--domain NAME"), std::string::npos) << help;
    EXPECT_NE(help.find("--connect URI"), std::string::npos) << help;
    EXPECT_NE(help.find("(default: libvirt's default)"), std::string::npos) << help;
  }
}

TEST(CommandLineTest, DryRunDoesNotGoWithDomain) {
  EXPECT_EQ(UsageError({"run", "--domain", "d", "--dry-run", "--", "true"}),
            "--dry-run cannot be used with --domain: libvirt starts the domain's QEMU (`virsh "
            "domxml-to-native qemu-argv --domain NAME` shows its command line) (try nvlab run "
            "--help)");
}

// ------------------------------------------------------------------- each lab option: good

TEST(CommandLineTest, Machine) {
  EXPECT_EQ(Parsed(RunWith({"--machine", "fsdax-ext4"})).machine, "fsdax-ext4");
  EXPECT_EQ(Parsed(RunWith({"--machine", "/tmp/my.machine"})).machine, "/tmp/my.machine");
  EXPECT_EQ(Parsed(RunWith({"--machine=two-nvdimms-numa"})).machine, "two-nvdimms-numa");
}

TEST(CommandLineTest, NvdimmRepeatsAndReadsSizes) {
  EXPECT_EQ(Parsed(RunWith({"--nvdimm", "256M"})).nvdimm_sizes,
            std::vector<uint64_t>({256u << 20}));
  EXPECT_EQ(Parsed(RunWith({"--nvdimm", "2G", "--nvdimm=2M", "--nvdimm", "4M"})).nvdimm_sizes,
            std::vector<uint64_t>({2ull << 30, 2u << 20, 4u << 20}));
  EXPECT_EQ(Parsed(RunWith({"--nvdimm", "64G"})).nvdimm_sizes,
            std::vector<uint64_t>({64ull << 30}));
}

// --nvdimm gets a machine file's limits: at most 8 NVDIMMs (the size limit is with the bad
// values below).
TEST(CommandLineTest, NvdimmAtMostEightTimes) {
  Args eight;
  for (int i = 0; i < 8; ++i) eight.insert(eight.end(), {"--nvdimm", "2M"});
  EXPECT_EQ(Parsed(RunWith(eight)).nvdimm_sizes.size(), 8u);
  Args nine = eight;
  nine.insert(nine.end(), {"--nvdimm", "2M"});
  EXPECT_EQ(UsageError(RunWith(nine)),
            "--nvdimm given 9 times: a machine has at most 8 NVDIMMs (try nvlab run --help)");
}

TEST(CommandLineTest, Namespace) {
  EXPECT_EQ(Parsed(RunWith({"--namespace", "devdax"})).namespace_mode, NamespaceMode::kDevdax);
  EXPECT_EQ(Parsed(RunWith({"--namespace", "fsdax"})).namespace_mode, NamespaceMode::kFsdax);
  EXPECT_EQ(Parsed(RunWith({"--namespace", "raw"})).namespace_mode, NamespaceMode::kRaw);
}

TEST(CommandLineTest, Filesystem) {
  EXPECT_EQ(Parsed(RunWith({"--filesystem", "ext4"})).filesystem, FileSystem::kExt4);
  EXPECT_EQ(Parsed(RunWith({"--filesystem", "xfs"})).filesystem, FileSystem::kXfs);
}

TEST(CommandLineTest, Persistence) {
  EXPECT_EQ(Parsed(RunWith({"--persistence", "adr"})).persistence, Persistence::kAdr);
  EXPECT_EQ(Parsed(RunWith({"--persistence", "eadr"})).persistence, Persistence::kEadr);
}

TEST(CommandLineTest, Share) {
  EXPECT_EQ(Parsed(RunWith({"--share", "./out"})).share_dir, "./out");
}

TEST(CommandLineTest, NvdimmImageRepeats) {
  EXPECT_EQ(Parsed(RunWith({"--nvdimm-image", "a.img"})).nvdimm_images, Args({"a.img"}));
  EXPECT_EQ(Parsed(RunWith({"--nvdimm-image", "a.img", "--nvdimm-image=b.img"})).nvdimm_images,
            Args({"a.img", "b.img"}));
}

TEST(CommandLineTest, Accel) {
  EXPECT_EQ(Parsed(RunWith({"--accel", "tcg"})).accel, Accel::kTcg);
  EXPECT_EQ(Parsed(RunWith({"--accel", "kvm"})).accel, Accel::kKvm);
}

TEST(CommandLineTest, Model) {
  EXPECT_EQ(Parsed(RunWith({"--model", "on"})).model, std::optional<bool>(true));
  EXPECT_EQ(Parsed(RunWith({"--model", "off"})).model, std::optional<bool>(false));
}

TEST(CommandLineTest, OnCut) {
  CliOptions o = Parsed(RunWith({"--on-cut", "keep"}));
  EXPECT_EQ(o.on_cut, "keep");
  EXPECT_EQ(o.on_cut_policy.kind, model::CutPolicy::Kind::kKeep);
  o = Parsed(RunWith({"--on-cut", "lose"}));
  EXPECT_EQ(o.on_cut_policy.kind, model::CutPolicy::Kind::kLose);
  o = Parsed(RunWith({"--on-cut", "random:7:0.25"}));
  EXPECT_EQ(o.on_cut, "random:7:0.25");  // passed to the plugin as given
  EXPECT_EQ(o.on_cut_policy.kind, model::CutPolicy::Kind::kRandom);
  EXPECT_EQ(o.on_cut_policy.seed, 7u);
  EXPECT_EQ(o.on_cut_policy.p, 0.25);
  o = Parsed(RunWith({"--on-cut", "random:0x10"}));
  EXPECT_EQ(o.on_cut, "random:0x10");
  EXPECT_EQ(o.on_cut_policy.seed, 16u);
  EXPECT_EQ(o.on_cut_policy.p, 0.5);
}

TEST(CommandLineTest, CutAfterFences) {
  EXPECT_EQ(Parsed(RunWith({"--cut-after-fences", "1"})).cut_after_fences, 1u);
  EXPECT_EQ(Parsed(RunWith({"--cut-after-fences", "010"})).cut_after_fences, 10u);  // decimal
  EXPECT_EQ(Parsed(RunWith({"--cut-after-fences", "18446744073709551615"})).cut_after_fences,
            UINT64_MAX);
}

TEST(CommandLineTest, TraceStores) {
  EXPECT_EQ(Parsed(RunWith({"--trace-stores", "off"})).trace_stores, "off");
  EXPECT_EQ(Parsed(RunWith({"--trace-stores", "user"})).trace_stores, "user");
  EXPECT_EQ(Parsed(RunWith({"--trace-stores", "on"})).trace_stores, "on");
}

TEST(CommandLineTest, Timeout) {
  EXPECT_EQ(Parsed(RunWith({"--timeout", "1"})).timeout_seconds, 1);
  EXPECT_EQ(Parsed(RunWith({"--timeout", "86400"})).timeout_seconds, 86400);
  EXPECT_EQ(Parsed(RunWith({"--timeout=25"})).timeout_seconds, 25);
  EXPECT_EQ(Parsed(RunWith({"--timeout", "0300"})).timeout_seconds, 300);  // decimal, not octal
}

TEST(CommandLineTest, TimeoutGivenOrDefault) {
  EXPECT_FALSE(Parsed(RunWith({})).timeout_given);
  EXPECT_TRUE(Parsed(RunWith({"--timeout", "300"})).timeout_given);
  EXPECT_FALSE(Parsed({"image"}).timeout_given) << "`image` then has no limit";
  EXPECT_TRUE(Parsed({"image", "--timeout", "9"}).timeout_given);
}

TEST(CommandLineTest, HangTimeout) {
  EXPECT_EQ(Parsed(RunWith({})).hang_timeout_seconds, kDefaultHangTimeoutSeconds);
  EXPECT_EQ(kDefaultHangTimeoutSeconds, 60);
  EXPECT_EQ(Parsed(RunWith({"--hang-timeout", "0"})).hang_timeout_seconds, 0);
  EXPECT_EQ(Parsed(RunWith({"--hang-timeout", "5"})).hang_timeout_seconds, 5);
  EXPECT_NE(UsageError(RunWith({"--hang-timeout", "-1"})).find("--hang-timeout"),
            std::string::npos);
  EXPECT_NE(UsageError(RunWith({"--hang-timeout", "86401"})).find("seconds, 0 to 86400"),
            std::string::npos);
  const std::string help = Help({"run", "--help"});
  EXPECT_NE(help.find("--hang-timeout"), std::string::npos) << help;
}

TEST(CommandLineTest, Flags) {
  const CliOptions o = Parsed(RunWith({"--deterministic", "--json", "-v", "--cold"}));
  EXPECT_TRUE(o.deterministic);
  EXPECT_TRUE(o.cold);
  EXPECT_FALSE(Parsed(RunWith({})).cold) << "warm starts are the default";
  EXPECT_TRUE(o.json);
  EXPECT_TRUE(o.verbose);
  EXPECT_TRUE(Parsed(RunWith({"--verbose"})).verbose);
}

TEST(CommandLineTest, FlagsTakeNoValueOrTrueOrFalse) {
  EXPECT_TRUE(Parsed(RunWith({"--json=true"})).json);
  EXPECT_FALSE(Parsed(RunWith({"--json", "--json=false"})).json);
  EXPECT_TRUE(Parsed(RunWith({"-vv"})).verbose);
  EXPECT_TRUE(Parsed(RunWith({"--json="})).json);  // an empty value is no value
  EXPECT_EQ(UsageError(RunWith({"--json=maybe"})),
            "--json: bad value 'maybe' (expected no value, true or false) (try nvlab run --help)");
  EXPECT_EQ(UsageError(RunWith({"--deterministic=1"})),
            "--deterministic: bad value '1' (expected no value, true or false) "
            "(try nvlab run --help)");
  EXPECT_EQ(UsageError(RunWith({"--verbose=yes"})),
            "--verbose: bad value 'yes' (expected no value, true or false) (try nvlab run --help)");
}

TEST(CommandLineTest, TheLastOfARepeatedOptionWins) {
  EXPECT_EQ(Parsed(RunWith({"--timeout", "5", "--timeout", "7"})).timeout_seconds, 7);
  EXPECT_EQ(Parsed(RunWith({"--machine", "a", "--machine", "b"})).machine, "b");
  EXPECT_EQ(Parsed(RunWith({"--persistence", "eadr", "--persistence", "adr"})).persistence,
            Persistence::kAdr);
}

TEST(CommandLineTest, LabOptionsWorkBeforeAndAfterTheCommandAndForEveryCommand) {
  const CliOptions o = Parsed({"--machine", "m", "run", "--timeout", "9", "--", "true"});
  EXPECT_EQ(o.machine, "m");
  EXPECT_EQ(o.timeout_seconds, 9);
  EXPECT_TRUE(Parsed({"image", "--json", "-v"}).json);
  EXPECT_EQ(Parsed({"demo", "--persistence", "eadr", "--on-cut", "keep"}).on_cut, "keep");
  EXPECT_EQ(Parsed({"power-cycle", "--model", "off", "--before", "a", "--after", "b"}).model,
            std::optional<bool>(false));
}

// -------------------------------------------------------------------- each lab option: bad

struct BadValueCase {
  std::string option;
  std::string value;
  std::string expected;  // the parenthesis of the message
};

TEST(CommandLineTest, EachBadValueIsNamedWithWhatTheOptionExpects) {
  const std::vector<BadValueCase> cases = {
      {"--machine", "", "expected a machine name or file"},
      {"--nvdimm", "lots", "expected a size like 256M, a multiple of 2M, at most 64G"},
      {"--nvdimm", "3M", "expected a size like 256M, a multiple of 2M, at most 64G"},
      {"--nvdimm", "0", "expected a size like 256M, a multiple of 2M, at most 64G"},
      {"--nvdimm", "", "expected a size like 256M, a multiple of 2M, at most 64G"},
      // The limit of a machine file's [nvdimm] size.
      {"--nvdimm", "66G", "expected a size like 256M, a multiple of 2M, at most 64G"},
      {"--namespace", "dax", "expected devdax, fsdax or raw"},
      {"--namespace", "DEVDAX", "expected devdax, fsdax or raw"},
      {"--filesystem", "btrfs", "expected ext4 or xfs"},
      {"--persistence", "sometimes", "expected adr or eadr"},
      {"--share", "", "expected a host directory"},
      {"--nvdimm-image", "", "expected a file name"},
      {"--accel", "hvf", "expected tcg or kvm"},
      {"--model", "yes", "expected on or off"},
      {"--model", "true", "expected on or off"},
      {"--cut-after-fences", "0", "expected a positive number"},
      {"--cut-after-fences", "-1", "expected a positive number"},
      {"--cut-after-fences", "0x10", "expected a positive number"},
      {"--cut-after-fences", "18446744073709551616", "expected a positive number"},
      {"--trace-stores", "all", "expected off, user or on"},
      {"--timeout", "0", "expected seconds, 1 to 86400"},
      {"--timeout", "86401", "expected seconds, 1 to 86400"},
      {"--timeout", "-5", "expected seconds, 1 to 86400"},
      {"--timeout", "+5", "expected seconds, 1 to 86400"},
      {"--timeout", "10s", "expected seconds, 1 to 86400"},
      {"--timeout", "0x10", "expected seconds, 1 to 86400"},
      {"--timeout", "1e3", "expected seconds, 1 to 86400"},
      {"--timeout", "", "expected seconds, 1 to 86400"},
  };
  for (const BadValueCase& c : cases) {
    SCOPED_TRACE(c.option + " " + c.value);
    const std::string want =
        c.option + ": bad value '" + c.value + "' (" + c.expected + ") (try nvlab run --help)";
    EXPECT_EQ(UsageError(RunWith({c.option, c.value})), want);
    EXPECT_EQ(UsageError(RunWith({c.option + "=" + c.value})), want) << "the --option=value form";
  }
}

TEST(CommandLineTest, ABadValueNamesTheCommandItsHelpIsFor) {
  EXPECT_EQ(UsageError({"--timeout", "0", "image"}),
            "--timeout: bad value '0' (expected seconds, 1 to 86400) (try nvlab image --help)");
  EXPECT_EQ(UsageError({"demo", "--accel", "x"}),
            "--accel: bad value 'x' (expected tcg or kvm) (try nvlab demo --help)");
}

TEST(CommandLineTest, ABadOnCutValueCarriesTheModelsReason) {
  EXPECT_EQ(UsageError(RunWith({"--on-cut", "bogus"})),
            "--on-cut: bad value 'bogus' (expected lose, keep or random:SEED[:P], got 'bogus') "
            "(try nvlab run --help)");
  EXPECT_EQ(UsageError(RunWith({"--on-cut", "random:"})),
            "--on-cut: bad value 'random:' (random: SEED must be an unsigned number, got '') "
            "(try nvlab run --help)");
  EXPECT_EQ(UsageError(RunWith({"--on-cut", "random:1:2"})),
            "--on-cut: bad value 'random:1:2' (random: P must be a number in [0, 1], got '2') "
            "(try nvlab run --help)");
}

TEST(CommandLineTest, UnknownOptionsAreNamed) {
  EXPECT_EQ(UsageError(RunWith({"--frobnicate"})),
            "unknown option '--frobnicate' for nvlab run (try nvlab run --help)");
  EXPECT_EQ(UsageError(RunWith({"-x"})),
            "unknown option '-x' for nvlab run (try nvlab run --help)");
  EXPECT_EQ(UsageError({"image", "--on-cutt", "keep"}),
            "unknown option '--on-cutt' for nvlab image (try nvlab image --help)");
  EXPECT_EQ(UsageError({"--frobnicate", "run", "--", "true"}),
            "unknown option '--frobnicate' for nvlab run (try nvlab run --help)");
  EXPECT_EQ(UsageError({"--frobnicate"}), "unknown option '--frobnicate' (try nvlab --help)");
  // --version belongs to nvlab itself, -h to every command, nothing else is short for anything.
  EXPECT_EQ(UsageError(RunWith({"--verb"})),
            "unknown option '--verb' for nvlab run (try nvlab run --help)");
}

TEST(CommandLineTest, AMissingValueIsNamed) {
  EXPECT_EQ(UsageError({"run", "--timeout"}), "--timeout needs a value (try nvlab run --help)");
  EXPECT_EQ(UsageError({"run", "--machine", "--", "true"}),
            "--machine needs a value (try nvlab run --help)");
  EXPECT_EQ(UsageError({"power-cycle", "--before", "true", "--after"}),
            "--after needs a value (try nvlab power-cycle --help)");
  EXPECT_EQ(UsageError({"image", "--on-cut"}), "--on-cut needs a value (try nvlab image --help)");
}

// ------------------------------------------------------------------ rules across options

TEST(CommandLineTest, KvmCannotRunThePersistenceModel) {
  EXPECT_EQ(UsageError(RunWith({"--accel", "kvm", "--model", "on"})),
            "--model on: the persistence model needs TCG; --accel kvm implies --model off "
            "(try nvlab run --help)");
  for (const Args& needs_model : {Args{"--on-cut", "keep"}, Args{"--cut-after-fences", "3"},
                                  Args{"--trace-stores", "user"}}) {
    EXPECT_EQ(UsageError(RunWith({"--accel", "kvm", needs_model[0], needs_model[1]})),
              NeedsTheModel(needs_model, "--accel kvm"));
  }
  // What the model would do anyway is no conflict.
  const CliOptions o = Parsed(
      RunWith({"--accel", "kvm", "--model", "off", "--on-cut", "lose", "--trace-stores", "off"}));
  EXPECT_EQ(o.accel, Accel::kKvm);
}

TEST(CommandLineTest, ModelOffCannotActOnACut) {
  EXPECT_EQ(UsageError(RunWith({"--model", "off", "--on-cut", "random:3"})),
            NeedsTheModel({"--on-cut", "random:3"}, "--model off"));
  EXPECT_EQ(UsageError(RunWith({"--model", "off", "--cut-after-fences", "1"})),
            NeedsTheModel({"--cut-after-fences", "1"}, "--model off"));
  EXPECT_EQ(UsageError(RunWith({"--trace-stores", "on", "--model", "off"})),
            NeedsTheModel({"--trace-stores", "on"}, "--model off"));
  EXPECT_EQ(Parsed(RunWith({"--model", "off", "--on-cut", "lose"})).model,
            std::optional<bool>(false));
  EXPECT_EQ(Parsed(RunWith({"--model", "on", "--on-cut", "keep", "--trace-stores", "user",
                            "--cut-after-fences", "2"}))
                .cut_after_fences,
            2u);
}

// ------------------------------------------------------------------- --help and --version

TEST(CommandLineTest, HelpListsEveryCommandAndEveryOptionWithItsDefault) {
  const std::string help = Help({"--help"});
  EXPECT_TRUE(help.starts_with("usage: nvlab COMMAND [OPTIONS]\n")) << help;
  for (const char* word : {"image",
                           "run",
                           "power-cycle",
                           "demo",
                           "machine",
                           "--machine NAME|FILE",
                           "--nvdimm SIZE",
                           "--namespace devdax|fsdax|raw",
                           "--filesystem ext4|xfs",
                           "--persistence adr|eadr",
                           "--share HOSTDIR",
                           "--nvdimm-image FILE",
                           "--accel tcg|kvm",
                           "--model on|off",
                           "--on-cut lose|keep|random:SEED[:P]",
                           "--cut-after-fences N",
                           "--trace-stores off|user|on",
                           "--deterministic",
                           "--timeout SECONDS",
                           "--json",
                           "-v,--verbose",
                           "-h,--help",
                           "--version",
                           "(default: 300)",
                           "(default: lose)",
                           "(default: default)",
                           "(default: tcg)",
                           "(default: off)",
                           "(default: never)",
                           "(default: on under TCG, off under KVM)",
                           "NVLAB_HOME",
                           "NVLAB_PMEM",
                           "124",
                           "125",
                           "130"}) {
    EXPECT_NE(help.find(word), std::string::npos) << word << " missing from:\n" << help;
  }
  // Every command has its line in the Commands list: two spaces, its name, its description.
  for (const char* command : {"image", "run", "power-cycle", "demo", "machine", "campaign"}) {
    EXPECT_NE(help.find("\n  " + std::string(command) + " "), std::string::npos)
        << command << " missing from:\n"
        << help;
  }
  for (size_t start = 0, end; start < help.size(); start = end + 1) {
    end = help.find('\n', start);
    EXPECT_LE(end - start, 100u) << help.substr(start, end - start);
  }
  EXPECT_EQ(Help({"-h"}), help);
  EXPECT_EQ(Help({"help"}), help);
}

TEST(CommandLineTest, EachCommandHasItsOwnHelpWithTheLabOptions) {
  const std::string run = Help({"run", "--help"});
  EXPECT_TRUE(run.starts_with("usage: nvlab run [OPTIONS] -- CMD ARGS...\n")) << run;
  EXPECT_NE(run.find("--timeout SECONDS"), std::string::npos) << run;
  EXPECT_NE(run.find("(default: 300)"), std::string::npos) << run;
  EXPECT_EQ(run.find("--before"), std::string::npos) << run;
  EXPECT_EQ(Help({"help", "run"}), run);
  EXPECT_EQ(Help({"run", "--bogus-is-not-seen-after", "-h"}).substr(0, 20), run.substr(0, 20));

  const std::string cycle = Help({"power-cycle", "-h"});
  EXPECT_TRUE(cycle.starts_with("usage: nvlab power-cycle [OPTIONS] --before CMD --after CMD\n"))
      << cycle;
  EXPECT_NE(cycle.find("--before CMD"), std::string::npos) << cycle;
  EXPECT_NE(cycle.find("--after CMD"), std::string::npos) << cycle;
  EXPECT_NE(cycle.find("--on-cut"), std::string::npos) << cycle;

  EXPECT_NE(run.find("--dry-run"), std::string::npos) << run;
  EXPECT_NE(cycle.find("--dry-run"), std::string::npos) << cycle;

  const std::string machine = Help({"machine", "--help"});
  EXPECT_TRUE(machine.starts_with("usage: nvlab machine NAME|FILE --libvirt-xml [OPTIONS]\n"))
      << machine;
  for (const char* word : {"--libvirt-xml", "--domain-name NAME", "--domain-dir DIR",
                           "/var/lib/nvlab/domains/NAME", "--nvdimm-image FILE"}) {
    EXPECT_NE(machine.find(word), std::string::npos) << word << " missing from:\n" << machine;
  }
  for (size_t start = 0, end; start < machine.size(); start = end + 1) {
    end = machine.find('\n', start);
    EXPECT_LE(end - start, 100u) << machine.substr(start, end - start);
  }
  for (const Args& args : {Args{"campaign", "--help"}, Args{"campaign", "merge", "--help"}}) {
    const std::string campaign = Help(args);
    for (size_t start = 0, end; start < campaign.size(); start = end + 1) {
      end = campaign.find('\n', start);
      EXPECT_LE(end - start, 100u) << campaign.substr(start, end - start);
    }
  }
  EXPECT_TRUE(Help({"image", "--help"}).starts_with("usage: nvlab image [OPTIONS]\n"));
  EXPECT_TRUE(Help({"demo", "--help"}).starts_with("usage: nvlab demo [OPTIONS]\n"));
}

TEST(CommandLineTest, Version) {
  const ParsedCommandLine r = ParseCommandLine({"--version"});
  EXPECT_EQ(r.status, CommandLineStatus::kVersion);
  EXPECT_EQ(r.text, std::string("nvlab ") + NVLAB_VERSION);
}

// ------------------------------------------------------ --on-cut: one grammar with the model

TEST(CommandLineTest, OnCutAgreesWithTheModelsParser) {
  const std::vector<std::string> inputs = {
      "lose",
      "keep",
      "bogus",
      "",
      "Lose",
      "random",
      "random:",
      "random:7",
      "random:0x10",
      "random:0X10",
      "random:010",
      "random:7:0.25",
      "random:7:0",
      "random:7:1",
      "random:7:1.0",
      "random:7:.5",
      "random:1:2",
      "random:7:",
      "random:7:-0.1",
      "random:7:1e-1",
      "random:-1",
      "random:+1",
      "random:x",
      "random:7:0.5:1",
      "random::0.5",
      "random:0xffffffffffffffff",
      "random:18446744073709551616",
      " lose",
      "keep ",
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE("--on-cut '" + input + "'");
    model::CutPolicy want;
    std::string why;
    const bool model_accepts = model::ParseCutPolicy(input, &want, &why) == model::ModelStatus::kOk;
    const ParsedCommandLine r = ParseCommandLine(RunWith({"--on-cut", input}));
    if (model_accepts) {
      ASSERT_EQ(r.status, CommandLineStatus::kOk) << r.text;
      EXPECT_EQ(r.options.on_cut, input);
      EXPECT_EQ(r.options.on_cut_policy.kind, want.kind);
      EXPECT_EQ(r.options.on_cut_policy.seed, want.seed);
      EXPECT_EQ(r.options.on_cut_policy.p, want.p);
    } else {
      ASSERT_EQ(r.status, CommandLineStatus::kUsageError);
      EXPECT_EQ(r.text, "--on-cut: bad value '" + input + "' (" + why + ") (try nvlab run --help)");
    }
  }
}

TEST(CommandLineTest, OnCutTableOfTheIssue) {
  // What the model makes of each (the CLI agrees, above): 0x is hex, P is optional; a refusal
  // quotes the model's reason.
  struct Case {
    std::string input;
    bool ok;
    uint64_t seed;
    double p;
    std::string reason;  // Part of the usage error when !ok.
  };
  for (const Case& c : std::vector<Case>{
           {"random:0x10", true, 16, 0.5, ""},
           {"random:7:0.25", true, 7, 0.25, ""},
           {"random:", false, 0, 0, "(random: SEED must be an unsigned number, got '')"},
           {"random:1:2", false, 0, 0, "(random: P must be a number in [0, 1], got '2')"},
           {"keep", true, 0, 0.5, ""},
           {"lose", true, 0, 0.5, ""},
           {"bogus", false, 0, 0, "(expected lose, keep or random:SEED[:P], got 'bogus')"}}) {
    SCOPED_TRACE(c.input);
    const ParsedCommandLine r = ParseCommandLine(RunWith({"--on-cut", c.input}));
    if (!c.ok) {
      EXPECT_EQ(r.status, CommandLineStatus::kUsageError);
      EXPECT_NE(r.text.find("--on-cut: bad value '" + c.input + "' " + c.reason), std::string::npos)
          << r.text;
      continue;
    }
    ASSERT_EQ(r.status, CommandLineStatus::kOk) << r.text;
    if (r.options.on_cut_policy.kind == model::CutPolicy::Kind::kRandom) {
      EXPECT_EQ(r.options.on_cut_policy.seed, c.seed);
      EXPECT_EQ(r.options.on_cut_policy.p, c.p);
    }
  }
}

}  // namespace
}  // namespace nvlab

// -------------------------------------------------------------------------------- explore

namespace nvlab {
namespace {

TEST(ExploreCommandLineTest, TakesItsOptionsAndTheLabOptions) {
  const CliOptions o = Parsed({"explore",
                               "--workload",
                               "w",
                               "--check",
                               "c",
                               "--crash-points",
                               "every:4",
                               "--seed",
                               "9",
                               "--max-states",
                               "100",
                               "--no-prune",
                               "-j",
                               "2",
                               "--keep-failures",
                               "keep",
                               "--json",
                               "r.json",
                               "--junit",
                               "r.xml",
                               "--share",
                               "/srv",
                               "--persistence",
                               "eadr"});
  EXPECT_EQ(o.subcommand, Subcommand::kExplore);
  EXPECT_EQ(o.explore.workload, "w");
  EXPECT_EQ(o.explore.check, "c");
  EXPECT_EQ(o.explore.crash_points, "every:4");
  EXPECT_EQ(o.explore.seed, 9u);
  EXPECT_EQ(o.explore.max_states, 100u);
  EXPECT_TRUE(o.explore.no_prune);
  EXPECT_EQ(o.explore.jobs, 2);
  EXPECT_EQ(o.explore.keep_failures, "keep");
  EXPECT_EQ(o.explore.json_out, "r.json");
  EXPECT_EQ(o.explore.junit_out, "r.xml");
  EXPECT_EQ(o.share_dir, "/srv");
  EXPECT_FALSE(o.json);
  const CliOptions d = Parsed({"explore", "--workload", "w", "--check", "c"});
  EXPECT_EQ(d.explore.crash_points, "fences");
  EXPECT_EQ(d.explore.jobs, 1);
  EXPECT_FALSE(d.explore.no_prune);
}

TEST(ExploreCommandLineTest, RefusesWhatCannotExplore) {
  EXPECT_EQ(UsageError({"explore", "--workload", "w"}),
            "nvlab explore needs --workload CMD and --check CMD (try nvlab explore --help)");
  EXPECT_EQ(UsageError({"explore", "--workload", "w", "--check", "c", "--model", "off"}),
            "nvlab explore needs the persistence model (TCG, --model on) (try nvlab explore "
            "--help)");
  EXPECT_NE(UsageError({"explore", "--workload", "w", "--check", "c", "--crash-points", "every:0"})
                .find("--crash-points: bad value 'every:0'"),
            std::string::npos);
  EXPECT_NE(UsageError({"explore", "--workload", "w", "--check", "c", "-j", "17"})
                .find("expected a number of guests, 1 to 16"),
            std::string::npos);
  EXPECT_EQ(UsageError({"explore", "--workload", "w", "--check", "c", "--nvdimm-image", "x"}),
            "--nvdimm-image does not apply to nvlab explore (try nvlab explore --help)");
  EXPECT_EQ(UsageError({"--json", "explore", "--workload", "w", "--check", "c"}),
            "--json does not apply to nvlab explore (its --json takes a file: --json OUT) (try "
            "nvlab explore --help)");
}

}  // namespace
}  // namespace nvlab
