// cli_options.cc -- ParseCliOptions, ValidateOnCut, UsageText.

#include "cli_options.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace nvlab {
namespace {

template <typename T>
bool ParseNumber(std::string_view text, T min, T max, T* out) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

const char* UsageText() {
  return R"(usage: nvlab COMMAND [OPTIONS]

A hardware-free lab for persistent memory: QEMU guests with emulated NVDIMMs.

Commands:
  image                      build the default guest image into NVLAB_HOME (idempotent)
  run [OPTIONS] -- CMD ARGS  boot a guest, run CMD in it, stream its output, exit with its
                             status, power the guest off; one CMD string runs under `sh -c`
  power-cycle [OPTIONS] --before CMD --after CMD
                             boot, run CMD, cut the power the moment it exits (a hard stop),
                             boot again on what the NVDIMMs kept, run the second CMD; exits
                             with the second command's status
  demo [OPTIONS]             power-cycle a guest that writes records with every flush pattern
                             and show which survived

Options:
  --machine NAME|FILE        machine definition (qemu-configs/; default: default)
  --nvdimm SIZE              one NVDIMM of SIZE (e.g. 256M); repeat for more; replaces the
                             machine's NVDIMMs
  --namespace devdax|fsdax|raw   how the guest sets up each NVDIMM (default: the machine's)
  --filesystem ext4|xfs      file system for fsdax (default: the machine's, ext4)
  --persistence adr|eadr     platform persistence domain (default: the machine's, adr)
  --share HOSTDIR            mount HOSTDIR at /host in the guest (9p)
  --nvdimm-image FILE        keep NVDIMM content in FILE (created zeroed when missing, reused
                             when present, never deleted); repeat for the next NVDIMM
  --accel tcg|kvm            accelerator (default tcg; kvm needs real VMX/SVM and implies
                             --model off)
  --model on|off             load the persistence model (TCG plugin; default on under TCG)
  --on-cut lose|keep|random:SEED[:P]
                             what a power cut does to data not yet persistent (default lose)
  --cut-after-fences N       cut the power at the N-th fence that orders NVDIMM writes
  --trace-stores off|user|on record each lost line's last store (PC, CR3, guest process) in
                             the cut report: user-space stores only, or all (slower);
                             default off (only non-temporal stores carry a PC)
  --deterministic            -icount and fixed clocks: same program, same image (slower)
  --timeout SECONDS          whole-run limit (default 300); exit 124 when it expires
  --json                     print a machine-readable result on stdout after the guest output
  -v, --verbose              show what nvlab does (QEMU command lines, boot steps)
  -h, --help                 this text
  --version                  nvlab's version

Every guest command sees NVLAB_PMEM: /dev/daxN.M (devdax) or the DAX-mounted directory (fsdax).
Exit status: run: the command's; power-cycle: the second command's; 2: usage error;
124: --timeout expired; 125: the lab failed (QEMU missing or dead, guest did not boot);
130: interrupted (SIGINT, SIGTERM, SIGHUP: the guest is killed and its run folder removed).
Environment: NVLAB_HOME (image cache; default $XDG_CACHE_HOME/nvlab or ~/.cache/nvlab).
)";
}

bool ValidateOnCut(const std::string& text) {
  if (text == "lose" || text == "keep") return true;
  if (!text.starts_with("random:")) return false;
  std::string_view rest = std::string_view(text).substr(7);
  const size_t colon = rest.find(':');
  uint64_t seed = 0;
  if (!ParseNumber<uint64_t>(rest.substr(0, colon), 0, UINT64_MAX, &seed)) return false;
  if (colon == std::string_view::npos) return true;
  const std::string p(rest.substr(colon + 1));
  char* end = nullptr;
  const double prob = std::strtod(p.c_str(), &end);
  return !p.empty() && end == p.c_str() + p.size() && prob >= 0.0 && prob <= 1.0;
}

Status ParseCliOptions(int argc, char** argv, CliOptions* out) {
  CliOptions o;
  if (argc < 2) return Status::InvalidArgument("no command given (try nvlab --help)");
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    o.subcommand = Subcommand::kHelp;
  } else if (cmd == "--version") {
    o.subcommand = Subcommand::kVersion;
  } else if (cmd == "image") {
    o.subcommand = Subcommand::kImage;
  } else if (cmd == "run") {
    o.subcommand = Subcommand::kRun;
  } else if (cmd == "power-cycle") {
    o.subcommand = Subcommand::kPowerCycle;
  } else if (cmd == "demo") {
    o.subcommand = Subcommand::kDemo;
  } else {
    return Status::InvalidArgument("unknown command '" + cmd + "' (try nvlab --help)");
  }
  bool have_before = false;
  bool have_after = false;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool inline_value = false;
    if (arg.starts_with("--") && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      inline_value = true;
    }
    auto need_value = [&](std::string* v) -> Status {
      if (inline_value) {
        *v = value;
        return Status::Ok();
      }
      if (i + 1 >= argc) return Status::InvalidArgument(arg + " needs a value");
      *v = argv[++i];
      return Status::Ok();
    };
    auto bad = [&](const std::string& v, const std::string& expected) {
      return Status::InvalidArgument(arg + ": bad value '" + v + "' (expected " + expected + ")");
    };
    std::string v;
    if (arg == "--") {
      if (o.subcommand != Subcommand::kRun) {
        return Status::InvalidArgument("'--' only goes before the command of nvlab run");
      }
      for (++i; i < argc; ++i) o.command.emplace_back(argv[i]);
      break;
    } else if (arg == "-h" || arg == "--help") {
      o.subcommand = Subcommand::kHelp;
    } else if (arg == "-v" || arg == "--verbose") {
      o.verbose = true;
    } else if (arg == "--json") {
      o.json = true;
    } else if (arg == "--deterministic") {
      o.deterministic = true;
    } else if (arg == "--machine") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (v.empty()) return bad(v, "a machine name or file");
      o.machine = v;
    } else if (arg == "--nvdimm") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      uint64_t size = 0;
      if (!ParseSize(v, &size) || size % (2u << 20) != 0)
        return bad(v, "a size like 256M, a multiple of 2M");
      o.nvdimm_sizes.push_back(size);
    } else if (arg == "--namespace") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      NamespaceMode m;
      if (!ParseNamespaceMode(v, &m)) return bad(v, "devdax, fsdax or raw");
      o.namespace_mode = m;
    } else if (arg == "--filesystem") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      FileSystem f;
      if (!ParseFileSystem(v, &f)) return bad(v, "ext4 or xfs");
      o.filesystem = f;
    } else if (arg == "--persistence") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      Persistence p;
      if (!ParsePersistence(v, &p)) return bad(v, "adr or eadr");
      o.persistence = p;
    } else if (arg == "--share") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (v.empty()) return bad(v, "a host directory");
      o.share_dir = v;
    } else if (arg == "--nvdimm-image") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (v.empty()) return bad(v, "a file name");
      o.nvdimm_images.push_back(v);
    } else if (arg == "--accel") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (v == "tcg") {
        o.accel = Accel::kTcg;
      } else if (v == "kvm") {
        o.accel = Accel::kKvm;
      } else {
        return bad(v, "tcg or kvm");
      }
    } else if (arg == "--model") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (v != "on" && v != "off") return bad(v, "on or off");
      o.model = v == "on";
    } else if (arg == "--on-cut") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (!ValidateOnCut(v)) return bad(v, "lose, keep or random:SEED[:P] with P in [0,1]");
      o.on_cut = v;
    } else if (arg == "--cut-after-fences") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (!ParseNumber<uint64_t>(v, 1, UINT64_MAX, &o.cut_after_fences)) {
        return bad(v, "a positive number");
      }
    } else if (arg == "--trace-stores") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (v != "off" && v != "user" && v != "on") return bad(v, "off, user or on");
      o.trace_stores = v;
    } else if (arg == "--timeout") {
      NVLAB_RETURN_IF_ERROR(need_value(&v));
      if (!ParseNumber<int>(v, 1, 86400, &o.timeout_seconds)) return bad(v, "seconds, 1 to 86400");
    } else if (arg == "--before" && o.subcommand == Subcommand::kPowerCycle) {
      NVLAB_RETURN_IF_ERROR(need_value(&o.before));
      have_before = true;
    } else if (arg == "--after" && o.subcommand == Subcommand::kPowerCycle) {
      NVLAB_RETURN_IF_ERROR(need_value(&o.after));
      have_after = true;
    } else {
      return Status::InvalidArgument("unknown option '" + arg + "' for nvlab " + cmd);
    }
  }
  if (o.subcommand == Subcommand::kRun && o.command.empty()) {
    return Status::InvalidArgument("nvlab run needs a command: nvlab run [OPTIONS] -- CMD ARGS...");
  }
  if (o.subcommand == Subcommand::kPowerCycle && (!have_before || !have_after)) {
    return Status::InvalidArgument("nvlab power-cycle needs --before CMD and --after CMD");
  }
  if (o.accel == Accel::kKvm && o.model.value_or(false)) {
    return Status::InvalidArgument(
        "--model on: the persistence model needs TCG; --accel kvm implies --model off");
  }
  if (o.accel == Accel::kKvm &&
      (o.on_cut != "lose" || o.cut_after_fences != 0 || o.trace_stores != "off")) {
    return Status::InvalidArgument(
        "--on-cut/--cut-after-fences need the persistence model, which --accel kvm turns off");
  }
  if (o.model.has_value() && !*o.model &&
      (o.on_cut != "lose" || o.cut_after_fences != 0 || o.trace_stores != "off")) {
    return Status::InvalidArgument("--on-cut/--cut-after-fences/--trace-stores need --model on");
  }
  *out = std::move(o);
  return Status::Ok();
}

}  // namespace nvlab
