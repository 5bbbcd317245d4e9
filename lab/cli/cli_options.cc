// cli_options.cc -- ParseCommandLine: nvlab's command line, parsed by CLI11.
//
// ParseCommandLine reads as its steps: split the guest command off at "--", build the app and
// its commands, add the lab options (every command but campaign takes them, before or after its
// name), add power-cycle's --before/--after and campaign's options, parse (CLI11's exceptions
// become a status here), then check the rules that span options. Each value goes through one
// validator that says what it expected; --on-cut goes through the persistence model's own parser
// (model::ParseCutPolicy), the one the plugin reads it with, so the two cannot disagree.

#include "cli_options.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "nvlab/campaign/campaign_file.h"
#include "nvlab/campaign/campaign_report.h"
#include "nvlab/campaign/campaign_runner.h"
#include "nvlab/decimal.h"
#include "nvlab/explore/crash_points.h"
#include "nvlab/libvirt_domain_xml.h"

namespace nvlab {
namespace {

// ---------------------------------------------------------------------------------- values

bool ParseNonEmpty(std::string_view text, std::string* out) {
  if (text.empty()) return false;
  *out = std::string(text);
  return true;
}

// ParseNvdimmSize takes the sizes a machine file's [nvdimm] takes (NvdimmSizeProblem).
bool ParseNvdimmSize(std::string_view text, uint64_t* out) {
  uint64_t size = 0;
  if (!ParseSize(text, &size) || !NvdimmSizeProblem(size).empty()) return false;
  *out = size;
  return true;
}

bool ParseAccel(std::string_view text, Accel* out) {
  if (text == "tcg") {
    *out = Accel::kTcg;
  } else if (text == "kvm") {
    *out = Accel::kKvm;
  } else {
    return false;
  }
  return true;
}

bool ParseOnOff(std::string_view text, bool* out) {
  if (text != "on" && text != "off") return false;
  *out = text == "on";
  return true;
}

// ParseFlagValue: a flag is given bare (CLI11 passes "true"), or as --flag=true or --flag=false.
bool ParseFlagValue(std::string_view text, bool* out) {
  if (text != "true" && text != "false") return false;
  *out = text == "true";
  return true;
}

bool ParseDomainName(std::string_view text, std::string* out) {
  if (!IsValidLibvirtDomainName(text)) return false;
  *out = std::string(text);
  return true;
}

bool ParseTraceStores(std::string_view text, std::string* out) {
  if (text != "off" && text != "user" && text != "on") return false;
  *out = std::string(text);
  return true;
}

// BadValue is a validator's sentence; CLI11 puts the option's name in front ("--timeout: ...").
std::string BadValue(const std::string& value, const std::string& why) {
  return "bad value '" + value + "' (" + why + ")";
}

template <typename T>
using Parser = bool (*)(std::string_view, T*);

// Accepts checks a value with `parse`; `expected` says what it accepts.
template <typename T>
CLI::Validator Accepts(Parser<T> parse, const std::string& expected) {
  return CLI::Validator(
      [parse, expected](std::string& value) {
        T ignored{};
        return parse(value, &ignored) ? std::string() : BadValue(value, "expected " + expected);
      },
      "");
}

// Normalized checks a value with `parse` and rewrites it as a plain decimal, so that CLI11's own
// conversion (which reads 0x and leading-zero octal) stores exactly what `parse` read.
template <typename T>
CLI::Validator Normalized(Parser<T> parse, const std::string& expected) {
  return CLI::Validator(
      [parse, expected](std::string& value) {
        T parsed{};
        if (!parse(value, &parsed)) return BadValue(value, "expected " + expected);
        value = std::to_string(parsed);
        return std::string();
      },
      "");
}

bool ParseTimeout(std::string_view text, int* out) {
  return ParseDecimal<int>(text, 1, kMaxTimeoutSeconds, out);
}

bool ParseHangTimeout(std::string_view text, int* out) {
  return ParseDecimal<int>(text, 0, kMaxTimeoutSeconds, out);
}

bool ParseFenceCount(std::string_view text, uint64_t* out) {
  return ParseDecimal<uint64_t>(text, 1, UINT64_MAX, out);
}

// OnCutValidator accepts what the model accepts and passes on the model's reason otherwise.
CLI::Validator OnCutValidator() {
  return CLI::Validator(
      [](std::string& value) {
        model::CutPolicy policy;
        std::string why;
        if (model::ParseCutPolicy(value, &policy, &why) == model::ModelStatus::kOk) {
          return std::string();
        }
        return BadValue(value, why);
      },
      "");
}

// AddParsed adds an option whose (validated) value `parse` turns into *field.
template <typename T, typename Field>
CLI::Option* AddParsed(CLI::App* app, const std::string& name, Field* field, Parser<T> parse,
                       const std::string& expected, const std::string& description) {
  return app
      ->add_option_function<std::string>(
          name,
          [field, parse](const std::string& value) {
            T parsed{};
            parse(value, &parsed);
            *field = parsed;
          },
          description)
      ->check(Accepts(parse, expected));
}

// ------------------------------------------------------------------------------------ help

constexpr char kLabOptionsGroup[] = "Lab options (every command but campaign takes them)";
constexpr size_t kHelpWidth = 100;
constexpr size_t kOptionColumn = 34;
constexpr char kNoBreak = '\x1f';

// Wrap breaks text into lines of at most width columns at spaces, keeping its own line breaks.
std::string Wrap(const std::string& text, size_t width) {
  std::string out;
  std::istringstream paragraphs(text);
  std::string paragraph;
  bool first_paragraph = true;
  while (std::getline(paragraphs, paragraph)) {
    if (!first_paragraph) out += '\n';
    first_paragraph = false;
    std::istringstream words(paragraph);
    std::string word;
    size_t column = 0;
    while (words >> word) {
      if (column > 0 && column + 1 + word.size() > width) {
        out += '\n';
        column = 0;
      } else if (column > 0) {
        out += ' ';
        ++column;
      }
      out += word;
      column += word.size();
    }
  }
  return out;
}

// HelpFormatter is CLI11's layout with nvlab's usage lines, wrapped text, each option's default
// at the end of its description, and, in a command's help, the lab options it takes.
class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter() { column_width(kOptionColumn); }

  // SetUsage: the usage line of the app named `app_name` is "usage: PATH" + `after_path`.
  void SetUsage(const std::string& app_name, std::string after_path) {
    usage_[app_name] = std::move(after_path);
  }

  // SetNoLabOptions: the command named `app_name` takes no lab options (its help omits them).
  void SetNoLabOptions(const std::string& app_name) { no_lab_options_.insert(app_name); }

  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override {
    std::string out = make_usage(app, name) + make_description(app) + make_groups(app, mode);
    if (app->get_parent() != nullptr && no_lab_options_.count(app->get_name()) == 0) {
      out += make_group(kLabOptionsGroup, false,
                        app->get_parent()->get_options([](const CLI::Option* opt) {
                          return opt->get_group() == kLabOptionsGroup;
                        }));
    }
    out += make_subcommands(app, mode) + "\n" + make_footer(app);
    // CLI11 separates groups with blank lines of its own: one between sections is enough.
    for (size_t at; (at = out.find("\n\n\n")) != std::string::npos;) out.erase(at, 1);
    return out;
  }

  std::string make_usage(const CLI::App* app, std::string name) const override {
    const auto it = usage_.find(app->get_name());
    return "usage: " + name + (it == usage_.end() ? " [OPTIONS]" : it->second) + "\n\n";
  }

  std::string make_description(const CLI::App* app) const override {
    return Wrap(app->get_description(), kHelpWidth) + "\n";
  }

  std::string make_footer(const CLI::App* app) const override {
    return Wrap(app->get_footer(), kHelpWidth) + "\n";
  }

  std::string make_subcommand(const CLI::App* sub) const override {
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_name(),
                             Wrap(sub->get_description(), kHelpWidth - kOptionColumn),
                             column_width_);
    return out.str();
  }

  std::string make_option_opts(const CLI::Option* opt) const override {
    return opt->get_items_expected_max() == 0 ? std::string() : " " + opt->get_type_name();
  }

  // make_option_desc keeps "(default: X)" on one line (kNoBreak stands for its spaces).
  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string text = opt->get_description();
    if (!opt->get_default_str().empty()) {
      std::string tail = "(default: " + opt->get_default_str() + ")";
      std::replace(tail.begin(), tail.end(), ' ', kNoBreak);
      text += " " + tail;
    }
    std::string wrapped = Wrap(text, kHelpWidth - kOptionColumn);
    std::replace(wrapped.begin(), wrapped.end(), kNoBreak, ' ');
    return wrapped;
  }

 private:
  std::map<std::string, std::string> usage_;
  std::set<std::string> no_lab_options_;
};

constexpr char kFooter[] =
    "Every guest command sees NVLAB_PMEM: /dev/daxN.M (devdax) or the DAX-mounted directory "
    "(fsdax), and NVLAB_PMEM_ALL when there are several NVDIMMs.\n"
    "Exit status: run: the command's; power-cycle: the --after command's; shell, machine and "
    "--dry-run: 0; 2: usage error; "
    "124: --timeout expired (and nothing else); 125: the lab failed (QEMU missing or dead, "
    "guest did not boot, a kernel panic, a hung guest, a lab wait that expired); "
    "130: interrupted (SIGINT, SIGTERM, SIGHUP: the guest is killed and its run folder "
    "removed).\n"
    "Environment: NVLAB_HOME (image cache; default $XDG_CACHE_HOME/nvlab or ~/.cache/nvlab).";

constexpr char kCampaignFooter[] =
    "Each case is one `nvlab power-cycle` of the file's before and after commands "
    "(docs/formats/campaign.md); reports: docs/formats/campaign-report.md. Progress and a "
    "summary go to stderr.\n"
    "Exit status: 0: every case passed; 1: some case failed, erred or did not run; 2: usage "
    "error, a bad campaign file or report; 125: the lab cannot run (QEMU missing, the image "
    "build failed); 130: interrupted (running cases are cancelled, the reports are written with "
    "the unfinished cases not run).";

// ------------------------------------------------------------------------------- the steps

constexpr char kRunUsage[] = "nvlab run [OPTIONS] -- CMD ARGS...";
constexpr char kMachineUsage[] = "nvlab machine NAME|FILE --libvirt-xml [OPTIONS]";

// GuestCommand is the command line split at its first "--": what CLI11 parses, and what the
// guest runs.
struct GuestCommand {
  std::vector<std::string> nvlab_words;
  std::vector<std::string> command;
  bool has_separator = false;
};

GuestCommand SplitGuestCommand(const std::vector<std::string>& args) {
  GuestCommand split;
  const auto separator = std::find(args.begin(), args.end(), "--");
  split.nvlab_words.assign(args.begin(), separator);
  if (separator != args.end()) {
    split.has_separator = true;
    split.command.assign(separator + 1, args.end());
  }
  // "nvlab help [COMMAND]" is "nvlab [COMMAND] --help".
  if (!split.nvlab_words.empty() && split.nvlab_words.front() == "help") {
    split.nvlab_words.erase(split.nvlab_words.begin());
    split.nvlab_words.emplace_back("--help");
  }
  return split;
}

// TakesValue says whether option `name` takes a value for the command the words name (campaign
// merge is campaign's): its own option of that name, else the one it falls through to (a lab
// option of the app). A command's own --json OUT is not the lab's --json flag.
bool TakesValue(const CLI::App& app, const std::vector<std::string>& words,
                const std::string& name) {
  std::vector<const CLI::App*> chain = {&app};
  for (const std::string& word : words) {
    for (const CLI::App* command : chain.back()->get_subcommands({})) {
      if (command->get_name() == word) {
        chain.push_back(command);
        break;
      }
    }
  }
  for (auto a = chain.rbegin(); a != chain.rend(); ++a) {
    const CLI::Option* option = (*a)->get_option_no_throw(name);
    if (option != nullptr) return option->get_items_expected_max() > 0;
  }
  return false;
}

// SplitEmptyValues makes "--option=" two words, "--option" and "": CLI11 would otherwise take
// the next word as the value, where nvlab reads the empty value (which the validator judges).
std::vector<std::string> SplitEmptyValues(const CLI::App& app,
                                          const std::vector<std::string>& words) {
  std::vector<std::string> out;
  for (const std::string& word : words) {
    const std::string name = word.substr(0, word.size() - 1);
    if (word.starts_with("--") && word.ends_with("=") && TakesValue(app, words, name)) {
      out.push_back(name);
      out.emplace_back();
    } else {
      out.push_back(word);
    }
  }
  return out;
}

struct Commands {
  CLI::App* image = nullptr;
  CLI::App* run = nullptr;
  CLI::App* power_cycle = nullptr;
  CLI::App* demo = nullptr;
  CLI::App* machine = nullptr;
  CLI::App* campaign = nullptr;
  CLI::App* campaign_merge = nullptr;
  CLI::App* explore = nullptr;
  CLI::App* doctor = nullptr;
  CLI::App* shell = nullptr;
};

// BuildApp makes the nvlab app and its commands. Lab options fall through from a command to the
// app, so they work after the command's name as well as before it.
Commands BuildApp(CLI::App* app) {
  auto formatter = std::make_shared<HelpFormatter>();
  formatter->SetUsage("nvlab", " COMMAND [OPTIONS]");
  formatter->SetUsage("run", " [OPTIONS] -- CMD ARGS...");
  formatter->SetUsage("power-cycle", " [OPTIONS] --before CMD --after CMD");
  formatter->SetUsage("machine", " NAME|FILE --libvirt-xml [OPTIONS]");
  formatter->SetUsage("campaign",
                      " FILE [--jobs J] [--shard I/N] [--host NAME] [--json OUT] [--junit OUT]");
  formatter->SetUsage("merge", " SHARD.json... [--allow-missing] [--json OUT] [--junit OUT]");
  formatter->SetUsage("explore", " [OPTIONS] --workload CMD --check CMD");
  formatter->SetUsage("shell", " [--power-cycle] [OPTIONS]");
  formatter->SetNoLabOptions("campaign");
  formatter->SetNoLabOptions("merge");
  app->formatter(formatter);
  app->set_help_flag("-h,--help", "print this help and exit");
  app->set_version_flag("--version", std::string("nvlab ") + NVLAB_VERSION,
                        "print nvlab's version and exit");
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->require_subcommand(1);
  app->fallthrough();
  app->footer(std::string(kFooter) +
              "\n`nvlab COMMAND --help` shows one command's usage and every option it takes.");

  Commands commands;
  commands.image =
      app->add_subcommand("image", "build the default guest image into NVLAB_HOME (idempotent)");
  commands.run = app->add_subcommand(
      "run",
      "boot a guest, run CMD in it, stream its output, exit with its status, power the guest "
      "off; several words run as they are (argv), one CMD string runs under `sh -c`");
  commands.power_cycle = app->add_subcommand(
      "power-cycle",
      "boot, run the --before CMD, cut the power the moment it exits (a hard stop), boot again "
      "on what the NVDIMMs kept, run the --after CMD; exits with the second command's status");
  commands.demo = app->add_subcommand(
      "demo",
      "power-cycle a guest that writes records with every flush pattern and show which survived "
      "(ADR and eADR)");
  commands.machine = app->add_subcommand(
      "machine",
      "prepare a libvirt domain folder for the machine NAME|FILE and print the domain's XML "
      "(virsh define takes it as is)");
  commands.explore = app->add_subcommand(
      "explore",
      "run the --workload CMD once under the persistence model, recording its NVDIMM stores, "
      "flushes and fences; then check every crash state a power cut could leave at each crash "
      "point with the --check CMD (exit 0: the state is fine); exits 1 when a state fails");
  commands.doctor = app->add_subcommand(
      "doctor",
      "check this host and say what to fix, one line per check: QEMU and the plugin, the guest "
      "image, free space, /dev/kvm, libvirt; exit 1 when an essential check fails");
  formatter->SetUsage("doctor", " [--json]");
  formatter->SetNoLabOptions("doctor");
  commands.shell = app->add_subcommand(
      "shell",
      "boot a guest and give an interactive shell in it on this terminal (a real pty: job "
      "control, ^C to the guest's foreground job, the window size follows; TERM passed on); "
      "leaving it (exit, ^D) powers the guest off; exits 0 (a nonzero shell status is named on "
      "stderr). --timeout: 86400 unless given (each boot keeps a 300 s limit). Needs a terminal on "
      "stdin: scripts use run or power-cycle");
  for (CLI::App* command : {commands.image, commands.run, commands.power_cycle, commands.shell,
                            commands.demo, commands.machine, commands.explore, commands.doctor}) {
    command->group("Commands");
    command->footer(kFooter);
  }
  commands.doctor->footer(
      "Exit status: 0: every essential check passed (warnings allowed); 1: one failed (its line "
      "says what to fix); 2: usage error.");
  commands.campaign = app->add_subcommand(
      "campaign",
      "run a campaign file's power-cycles, J guests at once, or one shard of them; report each "
      "case as pass, fail, error or not run (JSON, JUnit XML); `nvlab campaign merge` joins "
      "shard reports");
  commands.campaign->group("Commands");
  commands.campaign->footer(kCampaignFooter);
  commands.campaign_merge = commands.campaign->add_subcommand(
      "merge",
      "merge the JSON reports of a campaign's shards (run on several hosts) into one report");
  commands.campaign_merge->group("Commands");
  commands.campaign_merge->footer(kCampaignFooter);
  return commands;
}

// AddLabOptions adds the options every command takes, with the defaults of CliOptions.
void AddLabOptions(CLI::App* app, CliOptions* o) {
  const CliOptions defaults;
  std::vector<CLI::Option*> added;
  added.push_back(app->add_option("--machine", o->machine,
                                  "machine definition: a name in qemu-configs/ or a file")
                      ->type_name("NAME|FILE")
                      ->capture_default_str()
                      ->check(Accepts<std::string>(ParseNonEmpty, "a machine name or file")));
  added.push_back(
      app->add_option("--nvdimm", o->nvdimm_sizes,
                      "one NVDIMM of SIZE (e.g. 256M, a multiple of 2M, at most 64G); repeat "
                      "for more (at most 8); replaces the machine's NVDIMMs")
          ->type_name("SIZE")
          ->default_str("the machine's")
          ->allow_extra_args(false)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
          ->transform(Normalized<uint64_t>(ParseNvdimmSize,
                                           "a size like 256M, a multiple of 2M, at most 64G")));
  added.push_back(AddParsed<NamespaceMode>(app, "--namespace", &o->namespace_mode,
                                           ParseNamespaceMode, "devdax, fsdax or raw",
                                           "how the guest sets up each NVDIMM")
                      ->type_name("devdax|fsdax|raw")
                      ->default_str("the machine's"));
  added.push_back(AddParsed<FileSystem>(app, "--filesystem", &o->filesystem, ParseFileSystem,
                                        "ext4 or xfs", "file system for fsdax")
                      ->type_name("ext4|xfs")
                      ->default_str("the machine's"));
  added.push_back(AddParsed<Persistence>(app, "--persistence", &o->persistence, ParsePersistence,
                                         "adr or eadr",
                                         "platform persistence domain (the guest's sysfs agrees)")
                      ->type_name("adr|eadr")
                      ->default_str("the machine's"));
  added.push_back(
      app->add_option("--share", o->share_dir, "mount HOSTDIR at /host in the guest (9p)")
          ->type_name("HOSTDIR")
          ->check(Accepts<std::string>(ParseNonEmpty, "a host directory")));
  added.push_back(app->add_option("--nvdimm-image", o->nvdimm_images,
                                  "keep NVDIMM content in FILE (created zeroed when missing, "
                                  "reused when present, never deleted; locked: one nvlab at a "
                                  "time); repeat for the next NVDIMM, with another file")
                      ->type_name("FILE")
                      ->allow_extra_args(false)
                      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                      ->check(Accepts<std::string>(ParseNonEmpty, "a file name")));
  added.push_back(AddParsed<Accel>(app, "--accel", &o->accel, ParseAccel, "tcg or kvm",
                                   "accelerator; kvm needs real VMX/SVM and implies --model off")
                      ->type_name("tcg|kvm")
                      ->default_str("tcg"));
  added.push_back(AddParsed<bool>(app, "--model", &o->model, ParseOnOff, "on or off",
                                  "load the persistence model (a TCG plugin)")
                      ->type_name("on|off")
                      ->default_str("on under TCG, off under KVM"));
  added.push_back(app->add_option_function<std::string>(
                         "--on-cut",
                         [o](const std::string& value) {
                           o->on_cut = value;
                           model::ParseCutPolicy(value, &o->on_cut_policy, nullptr);
                         },
                         "what a power cut does to data not yet persistent: none of it lands, "
                         "all of it lands, or each write-back lands with probability P (default "
                         "0.5) drawn from SEED (decimal or 0x hex)")
                      ->type_name("lose|keep|random:SEED[:P]")
                      ->default_str(defaults.on_cut)
                      ->check(OnCutValidator()));
  added.push_back(app->add_option("--cut-after-fences", o->cut_after_fences,
                                  "cut the power at the N-th fence that orders NVDIMM writes")
                      ->type_name("N")
                      ->default_str("never")
                      ->transform(Normalized<uint64_t>(ParseFenceCount, "a positive number")));
  added.push_back(AddParsed<std::string>(
                      app, "--trace-stores", &o->trace_stores, ParseTraceStores, "off, user or on",
                      "record each lost line's last store (PC, CR3, guest process) in the cut "
                      "report: user-space stores only, or all (slower); when off only "
                      "non-temporal stores carry a PC")
                      ->type_name("off|user|on")
                      ->default_str(defaults.trace_stores));
  added.push_back(app->add_flag("--deterministic", o->deterministic,
                                "-icount and fixed clocks: same program, same image (slower)"));
  added.push_back(app->add_flag("--cold", o->cold,
                                "boot the guest's kernel every time instead of restoring the "
                                "warm-start template saved once per image and machine"));
  added.push_back(
      app->add_option("--timeout", o->timeout_seconds,
                      "whole-run limit (image build, host tools, boots, commands, power cuts "
                      "and power-offs), 1 to 86400; exit 124 when it expires; "
                      "`image` and `shell` have none unless given")
          ->type_name("SECONDS")
          ->capture_default_str()
          ->transform(Normalized<int>(ParseTimeout, "seconds, 1 to 86400")));
  added.push_back(app->add_option("--hang-timeout", o->hang_timeout_seconds,
                                  "while a command runs, a guest whose console and agent are "
                                  "both silent this long is hung: exit 125 naming the hang; "
                                  "0 turns it off")
                      ->type_name("SECONDS")
                      ->capture_default_str()
                      ->transform(Normalized<int>(ParseHangTimeout, "seconds, 0 to 86400")));
  added.push_back(app->add_flag("--json", o->json,
                                "print a machine-readable result on stdout after the guest "
                                "output"));
  added.push_back(app->add_flag("-v,--verbose", o->verbose,
                                "show what nvlab does (QEMU command lines, boot steps)"));
  for (CLI::Option* option : added) {
    option->group(kLabOptionsGroup);
    if (option->get_items_expected_max() == 0) {
      option->check(Accepts<bool>(ParseFlagValue, "no value, true or false"));
    }
  }
}

// AddPowerCycleOptions adds the two commands of nvlab power-cycle.
void AddPowerCycleOptions(CLI::App* power_cycle, CliOptions* o) {
  power_cycle->add_option("--before", o->before, "run CMD (under sh -c), then cut the power")
      ->type_name("CMD");
  power_cycle->add_option("--after", o->after, "after the cut, boot again and run CMD")
      ->type_name("CMD");
}

// AddShellOptions adds nvlab shell's own option.
void AddShellOptions(CLI::App* shell, CliOptions* o) {
  shell
      ->add_flag("--power-cycle", o->shell_power_cycle,
                 "the first shell ends with a power cut: nvlab-powercut in it (the guest's own "
                 "cut), or leaving it (a host cut, as power-cycle's after --before); nvlab "
                 "prints the cut's report, boots again on what the NVDIMMs kept and opens a "
                 "second shell; leaving that one ends nvlab")
      ->check(Accepts<bool>(ParseFlagValue, "no value, true or false"));
}

// AddDryRunOption adds --dry-run to run and power-cycle.
void AddDryRunOption(CLI::App* command, CliOptions* o) {
  command
      ->add_flag("--dry-run", o->dry_run,
                 "print the QEMU command line of each boot (one line each, quoted for sh) and "
                 "exit: start no QEMU, create no file (no --nvdimm-image)")
      ->check(Accepts<bool>(ParseFlagValue, "no value, true or false"));
}

// AddMachineOptions adds the machine command's argument and options.
void AddMachineOptions(CLI::App* machine, CliOptions* o) {
  machine->add_option("machine", o->machine, "the machine: a name in qemu-configs/ or a file")
      ->type_name("NAME|FILE")
      ->check(Accepts<std::string>(ParseNonEmpty, "a machine name or file"));
  machine
      ->add_flag("--libvirt-xml", o->libvirt_xml,
                 "render the machine as libvirt domain XML on stdout (the only rendering so "
                 "far): the lab options that shape the guest apply (--nvdimm, --namespace, "
                 "--filesystem, --persistence, --nvdimm-image, --model, --on-cut, "
                 "--trace-stores)")
      ->check(Accepts<bool>(ParseFlagValue, "no value, true or false"));
  AddParsed<std::string>(machine, "--domain-name", &o->domain_name, ParseDomainName,
                         "1 to 48 of A-Z a-z 0-9 _ . -, not starting with . or -",
                         "the libvirt domain's name")
      ->type_name("NAME")
      ->default_str("the machine's name");
  machine
      ->add_option("--domain-dir", o->domain_dir,
                   "the domain folder: kernel and initrd copies, NVDIMM files, run/ for the "
                   "sockets, console and cut report; by default /var/lib/nvlab/domains/NAME as "
                   "root, else NVLAB_HOME/domains/NAME")
      ->type_name("DIR")
      ->check(Accepts<std::string>(ParseNonEmpty, "a folder"));
}

// AddDomainOptions adds --domain and --connect to a command that runs guest commands.
void AddDomainOptions(CLI::App* command, CliOptions* o) {
  command
      ->add_option("--domain", o->domain,
                   "run in the running libvirt domain NAME instead of a guest nvlab boots (define "
                   "it from `nvlab machine --libvirt-xml`); the domain fixes the machine")
      ->type_name("NAME")
      ->check(Accepts<std::string>(ParseNonEmpty, "a libvirt domain name"));
  command
      ->add_option("--connect", o->connect_uri,
                   "libvirt URI of --domain's daemon, e.g. qemu:///system")
      ->type_name("URI")
      ->default_str("libvirt's default")
      ->check(Accepts<std::string>(ParseNonEmpty, "a libvirt URI"));
}

// kNotWithDomain are the options that shape a guest nvlab boots itself; a libvirt domain's
// definition fixes all of that (`nvlab machine --libvirt-xml` takes them instead).
constexpr const char* kNotWithDomain[] = {
    "--machine",       "--nvdimm",           "--namespace",   "--filesystem", "--persistence",
    "--share",         "--nvdimm-image",     "--accel",       "--model",      "--on-cut",
    "--deterministic", "--cut-after-fences", "--trace-stores"};

// DomainOptionProblem checks the rules of --domain and --connect; empty when there is none.
std::string DomainOptionProblem(const CLI::App& app, const CliOptions& o) {
  if (o.domain.empty()) {
    if (!o.connect_uri.empty()) return "--connect only goes with --domain";
    return "";
  }
  if (o.dry_run) {
    return "--dry-run cannot be used with --domain: libvirt starts the domain's QEMU (`virsh "
           "domxml-to-native qemu-argv --domain NAME` shows its command line)";
  }
  if (app.count("--cold") > 0) {
    return "--cold cannot be used with --domain: libvirt boots the domain itself, always from "
           "its kernel";
  }
  for (const char* option : kNotWithDomain) {
    if (app.count(option) > 0) {
      return std::string(option) +
             " cannot be used with --domain: the libvirt domain's definition fixes the machine "
             "(give it to `nvlab machine --libvirt-xml` instead)";
    }
  }
  return "";
}

bool ParseHostName(std::string_view text, std::string* out) {
  if (!campaign::IsHostName(text)) return false;
  *out = std::string(text);
  return true;
}

bool ParseJobs(std::string_view text, int* out) {
  return ParseDecimal<int>(text, 1, campaign::kMaxJobs, out);
}

bool ParseExploreJobs(std::string_view text, int* out) {
  return ParseDecimal<int>(text, 1, kMaxExploreJobs, out);
}

bool ParseUnsigned(std::string_view text, uint64_t* out) {
  return ParseDecimal<uint64_t>(text, 0, UINT64_MAX, out);
}

// AddExploreOptions adds nvlab explore's own options.
void AddExploreOptions(CLI::App* explore, ExploreOptions* o) {
  explore->add_option("--workload", o->workload, "the workload, run once under sh -c")
      ->type_name("CMD")
      ->check(Accepts<std::string>(ParseNonEmpty, "a command"));
  explore
      ->add_option("--check", o->check,
                   "run under sh -c on every crash state: exit 0 when the state is fine")
      ->type_name("CMD")
      ->check(Accepts<std::string>(ParseNonEmpty, "a command"));
  explore
      ->add_option("--crash-points", o->crash_points,
                   "where to cut: before each fence that orders NVDIMM writes and at the end "
                   "(fences), the end only, every N-th event, N sampled events, or a list of "
                   "event indexes and `end`")
      ->type_name("fences|end|every:N|sample:N|LIST")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& value) {
            explore::CrashPointSpec spec;
            const Status s = explore::ParseCrashPointSpec(value, &spec);
            return s.ok() ? std::string() : BadValue(value, s.message());
          },
          ""));
  explore->add_option("--seed", o->seed, "the seed of every sample (same seed, same states)")
      ->type_name("S")
      ->capture_default_str()
      ->transform(Normalized<uint64_t>(ParseUnsigned, "a number"));
  explore
      ->add_option("--max-states", o->max_states,
                   "check at most N states per crash point (a seeded sample, the rest reported "
                   "as not tried); 0: no limit")
      ->type_name("N")
      ->capture_default_str()
      ->transform(Normalized<uint64_t>(ParseUnsigned, "a number"));
  explore->add_flag("--no-prune", o->no_prune,
                    "check every state instead of only those that differ in a line the check "
                    "read");
  explore->add_option("--jobs,-j", o->jobs, "check in J guests at once, 1 to 16")
      ->type_name("J")
      ->capture_default_str()
      ->transform(Normalized<int>(ParseExploreJobs, "a number of guests, 1 to 16"));
  explore
      ->add_option("--keep-failures", o->keep_failures,
                   "keep each failing state's NVDIMM images in DIR (for nvlab run "
                   "--nvdimm-image)")
      ->type_name("DIR")
      ->check(Accepts<std::string>(ParseNonEmpty, "a folder"));
  explore
      ->add_option("--recording", o->recording,
                   "keep the recording in DIR; when DIR already holds one of the same workload, "
                   "explore it instead of running the workload again")
      ->type_name("DIR")
      ->check(Accepts<std::string>(ParseNonEmpty, "a folder"));
  explore->add_option("--json", o->json_out, "write the JSON report to OUT (atomically)")
      ->type_name("OUT")
      ->check(Accepts<std::string>(ParseNonEmpty, "a file name"));
  explore->add_option("--junit", o->junit_out, "write a JUnit XML report to OUT")
      ->type_name("OUT")
      ->check(Accepts<std::string>(ParseNonEmpty, "a file name"));
  explore
      ->add_option("--html", o->html_out,
                   "write a static HTML page to OUT: each failure with the timeline of its "
                   "lines' stores, flushes and fences")
      ->type_name("OUT")
      ->check(Accepts<std::string>(ParseNonEmpty, "a file name"));
}

// ExploreProblem checks nvlab explore's rules; empty when there is none.
std::string ExploreProblem(const CLI::App& app, const CliOptions& o) {
  if (o.subcommand != Subcommand::kExplore) return "";
  if (o.explore.workload.empty() || o.explore.check.empty()) {
    return "nvlab explore needs --workload CMD and --check CMD";
  }
  if (o.accel == Accel::kKvm || (o.model.has_value() && !*o.model)) {
    return "nvlab explore needs the persistence model (TCG, --model on)";
  }
  for (const char* name : {"--json", "--nvdimm-image", "--cut-after-fences", "--on-cut"}) {
    if (app.count(name) != 0) {
      return std::string(name) + " does not apply to nvlab explore" +
             (std::string(name) == "--json" ? " (its --json takes a file: --json OUT)" : "");
    }
  }
  return "";
}

// AddCampaignOptions adds the options of nvlab campaign and nvlab campaign merge.
void AddCampaignOptions(const Commands& commands, CampaignOptions* o) {
  CLI::App* run = commands.campaign;
  CLI::App* merge = commands.campaign_merge;
  run->add_option("FILE", o->file, "the campaign file")->type_name("");
  run->add_option("--jobs,-j", o->jobs, "run J cases at once, 1 to 64, each its own guest")
      ->type_name("J")
      ->capture_default_str()
      ->transform(Normalized<int>(ParseJobs, "a number of cases, 1 to 64"));
  run->add_option_function<std::string>(
         "--shard",
         [o](const std::string& value) { campaign::ParseShard(value, &o->shard, &o->shards); },
         "run only shard I of N: case k (0-based, in the file's order) is shard k mod N + 1")
      ->type_name("I/N")
      ->default_str("1/1")
      ->check(CLI::Validator(
          [](std::string& value) {
            int i = 0;
            int n = 0;
            return campaign::ParseShard(value, &i, &n)
                       ? std::string()
                       : BadValue(value, "expected I/N with 1 <= I <= N <= 10000");
          },
          ""));
  run->add_option("--host", o->host,
                  "the host name the reports record for this run (default: gethostname()): "
                  "1 to 64 printable ASCII characters, no spaces")
      ->type_name("NAME")
      ->check(Accepts<std::string>(ParseHostName, "1 to 64 printable ASCII characters, no spaces"));
  for (CLI::App* app : {run, merge}) {
    app->add_option("--json", o->json_out, "write the JSON report to OUT (atomically)")
        ->type_name("OUT")
        ->check(Accepts<std::string>(ParseNonEmpty, "a file name"));
    app->add_option("--junit", o->junit_out, "write a JUnit XML report to OUT")
        ->type_name("OUT")
        ->check(Accepts<std::string>(ParseNonEmpty, "a file name"));
  }
  merge->add_option("SHARD.json", o->merge_inputs, "shard reports (nvlab campaign --json)")
      ->type_name("")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  merge->add_flag("--allow-missing", o->allow_missing,
                  "merge even when whole shards are missing (the report lists them)");
}

// CampaignProblem checks the rules of the campaign commands; empty when there is none.
std::string CampaignProblem(const CLI::App& app, const CliOptions& o, const Commands& commands) {
  if (o.subcommand != Subcommand::kCampaign && o.subcommand != Subcommand::kCampaignMerge) {
    return "";
  }
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_group() == kLabOptionsGroup && option->count() > 0) {
      return option->get_name() +
             ": nvlab campaign takes no lab options (the campaign file "
             "says what each case runs)";
    }
  }
  if (o.subcommand == Subcommand::kCampaign && o.campaign.file.empty()) {
    return "nvlab campaign needs a campaign FILE";
  }
  if (o.subcommand == Subcommand::kCampaignMerge) {
    if (o.campaign.merge_inputs.empty()) {
      return "nvlab campaign merge needs the shard reports to merge";
    }
    for (const char* name : {"FILE", "--jobs", "--shard", "--host"}) {
      if (commands.campaign->count(name) > 0) {
        return std::string(name) + " is not an option of nvlab campaign merge";
      }
    }
  }
  return "";
}

const CLI::App* SelectedCommand(const CLI::App& app) {
  const std::vector<CLI::App*> selected = app.get_subcommands();
  return selected.empty() ? nullptr : selected.front();
}

Subcommand SubcommandOf(const Commands& commands) {
  if (commands.image->parsed()) return Subcommand::kImage;
  if (commands.run->parsed()) return Subcommand::kRun;
  if (commands.power_cycle->parsed()) return Subcommand::kPowerCycle;
  if (commands.demo->parsed()) return Subcommand::kDemo;
  if (commands.machine->parsed()) return Subcommand::kMachine;
  if (commands.campaign_merge->parsed()) return Subcommand::kCampaignMerge;
  if (commands.campaign->parsed()) return Subcommand::kCampaign;
  if (commands.explore->parsed()) return Subcommand::kExplore;
  if (commands.doctor->parsed()) return Subcommand::kDoctor;
  if (commands.shell->parsed()) return Subcommand::kShell;
  return Subcommand::kNone;
}

// DescribeLeftover names the first word nothing took (CLI11 leaves it in remaining()).
std::string DescribeLeftover(const CLI::App& app) {
  const std::vector<std::string> leftover = app.remaining(true);
  const CLI::App* command = SelectedCommand(app);
  if (leftover.empty()) return "no command given";
  const std::string& word = leftover.front();
  const std::string where = command == nullptr ? "" : " for nvlab " + command->get_name();
  if (word.size() > 1 && word.front() == '-') return "unknown option '" + word + "'" + where;
  if (command == nullptr) return "unknown command '" + word + "'";
  if (command->get_name() == "run") {
    return "unexpected argument '" + word + "': the guest command goes after '--' (" +
           std::string(kRunUsage) + ")";
  }
  return "unexpected argument '" + word + "'" + where;
}

// DescribeMissingValue names the option at the end of the line that wanted a value.
std::string DescribeMissingValue(const CLI::App& app, const std::vector<std::string>& words,
                                 const CLI::ArgumentMismatch& error) {
  if (words.empty() || !TakesValue(app, words, words.back())) return error.what();
  return words.back() + " needs a value";
}

// ModelOptionGiven names the first option given that only the persistence model acts on.
std::string ModelOptionGiven(const CliOptions& o) {
  if (o.on_cut_policy.kind != model::CutPolicy::Kind::kLose) return "--on-cut " + o.on_cut;
  if (o.cut_after_fences != 0) return "--cut-after-fences " + std::to_string(o.cut_after_fences);
  if (o.trace_stores != "off") return "--trace-stores " + o.trace_stores;
  return "";
}

// MachineProblem checks nvlab machine's rules; empty when there is none.
std::string MachineProblem(const CliOptions& o, const CLI::App& app, const Commands& commands) {
  if (commands.machine->count("machine") == 0) {
    return "nvlab machine needs a machine: " + std::string(kMachineUsage);
  }
  if (app.count("--machine") != 0) {
    return "nvlab machine takes the machine as its argument, not --machine: " +
           std::string(kMachineUsage);
  }
  if (!o.libvirt_xml) {
    return "nvlab machine needs --libvirt-xml (the only rendering so far): " +
           std::string(kMachineUsage);
  }
  // Lab options that shape a boot nvlab runs itself, not a libvirt domain.
  for (const char* name :
       {"--share", "--accel", "--cut-after-fences", "--deterministic", "--json", "--cold"}) {
    if (app.count(name) != 0) return std::string(name) + " does not apply to a libvirt domain";
  }
  return "";
}

// CrossOptionProblem checks the rules that span options; empty when there is none.
std::string CrossOptionProblem(const CliOptions& o, const GuestCommand& split, const CLI::App& app,
                               const Commands& commands) {
  if (o.subcommand == Subcommand::kMachine) {
    if (std::string problem = MachineProblem(o, app, commands); !problem.empty()) return problem;
  }
  if (o.nvdimm_sizes.size() > kMaxNvdimms) {
    return "--nvdimm given " + std::to_string(o.nvdimm_sizes.size()) +
           " times: a machine has at most " + std::to_string(kMaxNvdimms) + " NVDIMMs";
  }
  if (o.dry_run && o.json) return "--json does not apply to --dry-run";
  if (o.subcommand == Subcommand::kShell && o.json) {
    return "--json does not apply to nvlab shell (an interactive terminal)";
  }
  if (split.has_separator && o.subcommand != Subcommand::kRun) {
    return "'--' only goes before the command of nvlab run";
  }
  if (o.subcommand == Subcommand::kRun && o.command.empty()) {
    return "nvlab run needs a command: " + std::string(kRunUsage);
  }
  if (o.subcommand == Subcommand::kPowerCycle && (commands.power_cycle->count("--before") == 0 ||
                                                  commands.power_cycle->count("--after") == 0)) {
    return "nvlab power-cycle needs --before CMD and --after CMD";
  }
  if (o.accel == Accel::kKvm && o.model.value_or(false)) {
    return "--model on: the persistence model needs TCG; --accel kvm implies --model off";
  }
  const std::string model_option = ModelOptionGiven(o);
  if (!model_option.empty() && o.accel == Accel::kKvm) {
    return model_option + " needs the persistence model, which --accel kvm turns off";
  }
  if (!model_option.empty() && o.model.has_value() && !*o.model) {
    return model_option + " needs the persistence model, which --model off turns off";
  }
  return "";
}

ParsedCommandLine Result(CommandLineStatus status, std::string text, CliOptions options = {}) {
  ParsedCommandLine result;
  result.status = status;
  result.text = std::move(text);
  result.options = std::move(options);
  return result;
}

ParsedCommandLine UsageError(const CLI::App& app, const std::string& problem) {
  const CLI::App* command = SelectedCommand(app);
  const std::string help =
      command == nullptr ? "nvlab --help" : "nvlab " + command->get_name() + " --help";
  return Result(CommandLineStatus::kUsageError, problem + " (try " + help + ")");
}

}  // namespace

ParsedCommandLine ParseCommandLine(const std::vector<std::string>& args) {
  const GuestCommand split = SplitGuestCommand(args);
  CliOptions options;
  CLI::App app("A hardware-free lab for persistent memory: QEMU guests with emulated NVDIMMs.",
               "nvlab");
  try {
    const Commands commands = BuildApp(&app);
    AddLabOptions(&app, &options);
    AddPowerCycleOptions(commands.power_cycle, &options);
    AddDryRunOption(commands.run, &options);
    AddDryRunOption(commands.power_cycle, &options);
    AddMachineOptions(commands.machine, &options);
    AddDomainOptions(commands.run, &options);
    AddDomainOptions(commands.power_cycle, &options);
    AddDebugOptions(commands.run, &options.debug);
    AddDebugOptions(commands.power_cycle, &options.debug);
    AddCampaignOptions(commands, &options.campaign);
    AddExploreOptions(commands.explore, &options.explore);
    AddShellOptions(commands.shell, &options);
    const std::vector<std::string> words = SplitEmptyValues(app, split.nvlab_words);
    try {
      app.parse(std::vector<std::string>(words.rbegin(), words.rend()));
    } catch (const CLI::CallForHelp&) {
      return Result(CommandLineStatus::kHelp, app.help());
    } catch (const CLI::CallForAllHelp&) {
      return Result(CommandLineStatus::kHelp, app.help());
    } catch (const CLI::CallForVersion& version) {
      return Result(CommandLineStatus::kVersion, version.what());
    } catch (const CLI::ExtrasError&) {
      return UsageError(app, DescribeLeftover(app));
    } catch (const CLI::RequiredError&) {
      return UsageError(app, DescribeLeftover(app));
    } catch (const CLI::ArgumentMismatch& error) {
      return UsageError(app, DescribeMissingValue(app, words, error));
    }
    options.subcommand = SubcommandOf(commands);
    options.timeout_given = app.get_option("--timeout")->count() > 0;
    options.command = split.command;
    if (const std::string problem = CrossOptionProblem(options, split, app, commands);
        !problem.empty()) {
      return UsageError(app, problem);
    }
    if (const std::string problem = DomainOptionProblem(app, options); !problem.empty()) {
      return UsageError(app, problem);
    }
    if (const std::string problem =
            DebugOptionProblem(options.debug, options.dry_run, !options.domain.empty());
        !problem.empty()) {
      return UsageError(app, problem);
    }
    if (options.subcommand == Subcommand::kDoctor) {
      for (const CLI::Option* option : app.get_options()) {
        if (option->get_group() == kLabOptionsGroup && option->count() > 0 &&
            option->get_name() != "--json") {
          return UsageError(app, option->get_name() + ": nvlab doctor takes only --json");
        }
      }
    }
    if (const std::string problem = CampaignProblem(app, options, commands); !problem.empty()) {
      return UsageError(app, problem);
    }
    if (const std::string problem = ExploreProblem(app, options); !problem.empty()) {
      return UsageError(app, problem);
    }
  } catch (const CLI::Error& error) {
    // ValidationError ("--timeout: bad value ..."), ConversionError, and any other CLI11 error.
    return UsageError(app, error.what());
  }
  return Result(CommandLineStatus::kOk, "", std::move(options));
}

}  // namespace nvlab
