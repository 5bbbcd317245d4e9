// domain_session.cc -- RunOnDomain, PowerCycleOnDomain.

#include "domain_session.h"

#include <chrono>
#include <iostream>
#include <memory>

#include "nvlab/install_layout.h"
#include "nvlab/libvirt/domain_guest.h"
#include "nvlab/user_symbolizer.h"

namespace nvlab {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Deadline SessionDeadline(const CliOptions& options) {
  return Deadline::In(std::chrono::seconds(options.timeout_seconds));
}

Status Attach(const CliOptions& options, Deadline deadline, bool power_cut,
              std::unique_ptr<DomainGuest>* guest) {
  DomainGuestConfig config;
  config.power_cut = power_cut;
  config.uri = options.connect_uri;
  config.name = options.domain;
  config.boot_timeout = std::chrono::milliseconds(deadline.RemainingMs());
  config.log = options.verbose ? &std::cerr : nullptr;
  Status s = DomainGuest::Attach(std::move(config), deadline, guest);
  if (s.code() == Status::Code::kTimeout) {
    return Status::Timeout("--timeout " + std::to_string(options.timeout_seconds) +
                           " s expired: " + s.message());
  }
  return s;
}

// RunStep runs argv on the attached or booted domain within the deadline.
Status RunStep(const CliOptions& options, DomainGuest* guest, Deadline deadline,
               const std::vector<std::string>& argv, OutputSink* sink, StepResult* step) {
  step->argv = argv;
  const auto pmem = guest->hello().find("NVLAB_PMEM");
  if (pmem != guest->hello().end()) step->nvlab_pmem = pmem->second;
  const auto start = std::chrono::steady_clock::now();
  Status s = guest->Run(argv, sink, deadline, &step->result);
  step->command_seconds = SecondsSince(start);
  if (s.code() == Status::Code::kTimeout) {
    return Status::Timeout("--timeout " + std::to_string(options.timeout_seconds) +
                           " s expired: " + s.message());
  }
  return s;
}

// NameUserCode names the user-space stores of a report from nvlab's guest tools (a domain has
// no --share folder).
void NameUserCode(const CliOptions& options, CutReport* report) {
  if (!report->present) return;
  InstallLayout layout;
  if (!InstallLayout::FromExecutable(&layout).ok()) return;
  UserSymbolizer symbolizer({layout.guest_tools_dir}, options.verbose ? &std::cerr : nullptr);
  symbolizer.Annotate(report);
}

std::string FirstOf(const std::string& a, const std::string& b, const std::string& fallback) {
  if (!a.empty()) return a;
  return b.empty() ? fallback : b;
}

}  // namespace

Status RunOnDomain(const CliOptions& options, const std::vector<std::string>& argv,
                   OutputSink* sink, StepResult* step) {
  const Deadline deadline = SessionDeadline(options);
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<DomainGuest> guest;
  NVLAB_RETURN_IF_ERROR(Attach(options, deadline, /*power_cut=*/false, &guest));
  step->boot_seconds = SecondsSince(start);
  NVLAB_RETURN_IF_ERROR(RunStep(options, guest.get(), deadline, argv, sink, step));
  if (step->result.cut_by_guest) {
    NVLAB_RETURN_IF_ERROR(guest->PowerCut(&step->cut));
    NameUserCode(options, &step->cut);
  }
  return Status::Ok();
}

Status PowerCycleOnDomain(const CliOptions& options, const std::vector<std::string>& before,
                          const std::vector<std::string>& after, OutputSink* sink,
                          PowerCycleResult* result) {
  const Deadline deadline = SessionDeadline(options);
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<DomainGuest> guest;
  // power_cut: a domain that cannot be cut must not run the --before command.
  NVLAB_RETURN_IF_ERROR(Attach(options, deadline, /*power_cut=*/true, &guest));
  result->before.boot_seconds = SecondsSince(start);
  const DomainDescription& d = guest->description();
  result->machine = FirstOf(d.metadata.machine, "", d.name);
  result->persistence = FirstOf(d.plugin.persistence, d.metadata.persistence, "adr");
  result->model = true;
  result->on_cut = FirstOf(d.plugin.on_cut, d.metadata.on_cut, "lose");
  NVLAB_RETURN_IF_ERROR(RunStep(options, guest.get(), deadline, before, sink, &result->before));
  NVLAB_RETURN_IF_ERROR(guest->PowerCut(&result->cut));
  NameUserCode(options, &result->cut);
  start = std::chrono::steady_clock::now();
  NVLAB_RETURN_IF_ERROR(guest->Boot());
  result->after.boot_seconds = SecondsSince(start);
  NVLAB_RETURN_IF_ERROR(RunStep(options, guest.get(), deadline, after, sink, &result->after));
  if (result->after.result.cut_by_guest) {
    CutReport ignored;
    return guest->PowerCut(&ignored);
  }
  return Status::Ok();
}

}  // namespace nvlab
