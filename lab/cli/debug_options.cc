// debug_options.cc -- --keep, --console and --gdb[=PORT] on nvlab run and power-cycle.

#include "debug_options.h"

#include <CLI/CLI.hpp>

#include <vector>

#include "nvlab/decimal.h"

namespace nvlab {
namespace {

// ParseGdbPort takes a TCP port, 1 to 65535.
bool ParseGdbPort(const std::string& text, uint16_t* out) {
  int port = 0;
  if (!ParseDecimal<int>(text, 1, 65535, &port)) return false;
  *out = static_cast<uint16_t>(port);
  return true;
}

}  // namespace

void AddDebugOptions(CLI::App* command, DebugOptions* o) {
  command->add_flag("--keep", o->keep,
                    "keep the run folder (console and QEMU logs, cut reports, the NVDIMM files "
                    "nvlab made) and print where it is");
  command->add_flag("--console", o->console,
                    "copy the guest's serial console to stderr as it arrives (with a warm start "
                    "it begins after the restore: --cold shows the kernel's boot)");
  command
      ->add_option_function<std::vector<std::string>>(
          "--gdb",
          [o](const std::vector<std::string>& values) {
            o->gdb_port = kDefaultGdbPort;
            if (!values.empty() && !values.back().empty())
              ParseGdbPort(values.back(), &o->gdb_port);
          },
          "start each boot stopped, with QEMU's gdbstub on 127.0.0.1:PORT; the guest runs when "
          "gdb continues it (nvlab prints the gdb commands); boots cold, no hang timeout")
      ->type_name("[=PORT]")
      ->expected(0, 1)
      ->default_str(std::to_string(kDefaultGdbPort))
      ->check(CLI::Validator(
          [](std::string& value) {
            uint16_t port = 0;
            if (value.empty() || ParseGdbPort(value, &port)) return std::string();
            return "bad value '" + value + "' (expected a TCP port, 1 to 65535)";
          },
          ""));
}

std::string DebugOptionProblem(const DebugOptions& o, bool dry_run, bool on_domain) {
  const char* given = o.keep ? "--keep" : o.console ? "--console" : o.gdb_port != 0 ? "--gdb" : "";
  if (*given == '\0') return "";
  if (on_domain) {
    return std::string(given) +
           " cannot be used with --domain: libvirt runs the domain (virsh console, its own "
           "logs and gdbstub)";
  }
  if (dry_run && (o.keep || o.console)) {
    return std::string(o.keep ? "--keep" : "--console") +
           " does not apply to --dry-run (it starts no guest)";
  }
  return "";
}

}  // namespace nvlab
