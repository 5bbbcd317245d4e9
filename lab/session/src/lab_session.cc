// lab_session.cc -- LabSession: machine, image and guests for one nvlab invocation.

#include "nvlab/lab_session.h"

#include "nvlab/guest_template_cache.h"

#include <iostream>

#include "nvlab/interruption.h"
#include "nvlab/invocation_deadline.h"
#include "nvlab/libvirt_domain_folder.h"
#include "nvlab/libvirt_domain_xml.h"
#include "nvlab/machine.h"
#include "nvlab/qemu_host.h"
#include "nvlab/untrusted_text.h"
#include "nvlab/user_symbolizer.h"

namespace nvlab {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int ExitStatusFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return 0;
    case Status::Code::kInvalidArgument:
      return 2;
    case Status::Code::kTimeout:
      // The user's --timeout; a lab wait that expired before it is a lab failure.
      return InvocationDeadline().expired() ? 124 : 125;
    case Status::Code::kCancelled:
      return 130;
    default:
      return 125;
  }
}

LabSession::LabSession(const LabOptions& options)
    : options_(options), deadline_(Deadline::In(std::chrono::seconds(options.timeout_seconds))) {}

void LabSession::RestartDeadline() {
  deadline_ = Deadline::In(std::chrono::seconds(options_.timeout_seconds));
}

bool LabSession::model_enabled() const {
  return options_.model.value_or(options_.accel == Accel::kTcg);
}

Status LabSession::ResolveMachine() {
  if (machine_resolved_) return Status::Ok();
  if (!layout_given_) NVLAB_RETURN_IF_ERROR(InstallLayout::FromExecutable(&layout_));
  std::filesystem::path file;
  Status s = nvlab::ResolveMachine(options_.machine, layout_.machines_dir, &file);
  if (!s.ok()) return Status::InvalidArgument("--machine: " + s.message());
  NVLAB_RETURN_IF_ERROR(LoadMachine(file, &machine_));
  if (!options_.nvdimm_sizes.empty()) {
    std::vector<Nvdimm> nvdimms;
    for (size_t i = 0; i < options_.nvdimm_sizes.size(); ++i) {
      Nvdimm d;
      d.size = options_.nvdimm_sizes[i];
      d.node = static_cast<int>(i) % machine_.numa_nodes;
      nvdimms.push_back(d);
    }
    machine_.nvdimms = nvdimms;
  }
  if (options_.namespace_mode) machine_.namespace_mode = *options_.namespace_mode;
  if (options_.filesystem) machine_.filesystem = *options_.filesystem;
  if (options_.persistence) machine_.persistence = *options_.persistence;
  if (options_.nvdimm_images.size() > machine_.nvdimms.size()) {
    return Status::InvalidArgument(
        "--nvdimm-image given " + std::to_string(options_.nvdimm_images.size()) +
        " times for a machine with " + std::to_string(machine_.nvdimms.size()) + " NVDIMMs");
  }
  machine_resolved_ = true;
  return Status::Ok();
}

Status LabSession::PrepareImage(GuestImage* image) {
  NVLAB_RETURN_IF_ERROR(ResolveMachine());
  if (prepared_image_) {
    *image = *prepared_image_;
    return Status::Ok();
  }
  GuestImageSpec spec;
  spec.home = DefaultNvlabHome();
  spec.guest_tools_dir = layout_.guest_tools_dir;
  spec.guest_data_dir = layout_.guest_data_dir;
  spec.log = options_.verbose ? &std::cerr : nullptr;
  spec.notices = &std::cerr;
  const Status s = EnsureGuestImage(spec, image);
  if (!s.ok()) return s.WithContext("building the guest image");
  // A Ctrl-C between the builder's tools (or during a step that runs none) ends the run too.
  return CheckNotInterrupted("while the guest image was prepared");
}

Status LabSession::MakeGuest(std::unique_ptr<Guest>* guest, bool dry_run) {
  GuestConfig config;
  NVLAB_RETURN_IF_ERROR(MakeGuestConfig(&config, dry_run));
  return Guest::Create(std::move(config), guest);
}

Status LabSession::MakeGuestConfig(GuestConfig* out, bool dry_run) {
  NVLAB_RETURN_IF_ERROR(ResolveMachine());
  if (!dry_run) {
    // Asking QEMU its version starts it: a dry run does not. The answer is cached in
    // NVLAB_HOME, which must be safe to write first.
    NVLAB_RETURN_IF_ERROR(PrepareNvlabHome(DefaultNvlabHome()));
    std::string version;
    NVLAB_RETURN_IF_ERROR(
        CheckQemuCached("qemu-system-x86_64", 10, 0, DefaultNvlabHome(), &version));
    if (options_.accel == Accel::kKvm) NVLAB_RETURN_IF_ERROR(CheckKvm());
  }
  GuestImage image;
  NVLAB_RETURN_IF_ERROR(PrepareImage(&image));
  GuestConfig config;
  config.machine = machine_;
  config.kernel = image.kernel;
  config.initrd = image.initrd;
  config.kernel_task_layout = image.kernel_task_layout;
  config.image_hold = image.hold;
  for (const std::string& f : options_.nvdimm_images) config.nvdimm_images.emplace_back(f);
  config.share_dir = options_.share_dir;
  config.accel = options_.accel;
  config.deterministic = options_.deterministic;
  config.model.enabled = model_enabled();
  config.model.plugin = layout_.plugin;
  config.model.on_cut = options_.on_cut;
  config.model.cut_after_fences = options_.cut_after_fences;
  config.model.trace_stores = options_.trace_stores;
  if (config.model.enabled && !std::filesystem::exists(config.model.plugin)) {
    return Status::NotFound("the persistence model plugin is missing: " +
                            config.model.plugin.string() + " (use --model off to run without)");
  }
  config.log = options_.verbose ? &std::cerr : nullptr;
  config.notices = &std::cerr;
  config.boot_timeout = std::chrono::milliseconds(deadline_.RemainingMs());
  config.run_deadline = deadline_;
  config.hang_timeout = std::chrono::seconds(options_.hang_timeout_seconds);
  config.dry_run = dry_run;
  NVLAB_RETURN_IF_ERROR(ChooseWarmStart(dry_run, &config));
  *out = std::move(config);
  return Status::Ok();
}

// ChooseWarmStart sets config->warm_template unless the guest boots cold: --cold, or --accel kvm
// (templates are saved and restored under TCG). A template that cannot be built is no reason to
// fail: the guest boots cold and one line says why. A dry run builds nothing: it shows the
// restoring command line, and -v says whether the template is there yet.
Status LabSession::ChooseWarmStart(bool dry_run, GuestConfig* config) {
  if (options_.cold || options_.accel == Accel::kKvm) return Status::Ok();
  const std::filesystem::path home = DefaultNvlabHome();
  if (dry_run) {
    // Only the restoring command line is shown; QEMU itself need not be there.
    std::string key, inputs;
    GuestTemplate t;
    const Status keyed = GuestTemplateKey(*config, &key, &inputs);
    if (keyed.ok()) {
      t.dir = GuestTemplateDir(home, key);
      t.key = key;
      t.state = t.dir / "state";
    }
    if (options_.verbose) {
      std::cerr << "nvlab: warm start from "
                << (!keyed.ok() ? "a template (" + keyed.message() + ")"
                    : LoadGuestTemplate(t.dir, key, config->machine.numa_nodes, &t).ok()
                        ? t.dir.string()
                        : t.dir.string() +
                              " (not built yet: the run builds it first, with a cold boot)")
                << "\n";
    }
    config->warm_template = t;
    return Status::Ok();
  }
  GuestTemplate t;
  Status s = EnsureGuestTemplate(home, *config, &t);
  if (s.ok()) {
    config->warm_template = std::move(t);
    return Status::Ok();
  }
  // The user's deadline or Ctrl-C ended the build: that ends the run too.
  if (s.code() == Status::Code::kCancelled || deadline_.expired()) return s;
  const std::string why = s.message().substr(0, s.message().find('\n'));
  std::cerr << "nvlab: no warm start (" << why << "); booting cold\n";
  return Status::Ok();
}

Status LabSession::DryRun(int boots, std::vector<std::vector<std::string>>* command_lines) {
  command_lines->clear();
  std::unique_ptr<Guest> guest;
  NVLAB_RETURN_IF_ERROR(MakeGuest(&guest, /*dry_run=*/true));
  for (int boot = 1; boot <= boots; ++boot) command_lines->push_back(guest->BootCommandLine(boot));
  return Status::Ok();
}

Status LabSession::LibvirtDomain(const std::string& domain_name, const std::string& domain_dir,
                                 std::string* xml) {
  NVLAB_RETURN_IF_ERROR(ResolveMachine());
  const std::string name = domain_name.empty() ? machine_.name : domain_name;
  if (!IsValidLibvirtDomainName(name)) {
    return Status::InvalidArgument("the machine's name '" + EscapeUntrusted(name) +
                                   "' is not a valid domain name: give one with --domain-name");
  }
  GuestImage image;
  NVLAB_RETURN_IF_ERROR(PrepareImage(&image));
  QemuUser user;
  NVLAB_RETURN_IF_ERROR(FindQemuUser(&user));

  LibvirtDomainSpec spec;
  spec.name = name;
  spec.folder.dir =
      std::filesystem::absolute(domain_dir.empty() ? DefaultLibvirtDomainDir(name)
                                                   : std::filesystem::path(domain_dir))
          .lexically_normal();
  spec.emulator = layout_.emulator;
  spec.model.enabled = model_enabled();
  spec.model.plugin = layout_.plugin;
  spec.model.on_cut = options_.on_cut;
  spec.model.trace_stores = options_.trace_stores;
  spec.kernel_task_layout = image.kernel_task_layout;

  LibvirtDomainFolderRequest request;
  request.folder = spec.folder;
  request.kernel = image.kernel;
  request.initrd = image.initrd;
  for (const std::string& f : options_.nvdimm_images) request.nvdimm_images.emplace_back(f);
  request.emulator = layout_.emulator;
  if (spec.model.enabled) request.plugin = layout_.plugin;
  request.log = options_.verbose ? &std::cerr : nullptr;
  // Rendered once before the folder is touched, so that a name or path XML cannot carry is an
  // error with nothing made; again with the files the folder holds.
  for (size_t i = 0; i < machine_.nvdimms.size(); ++i) {
    const bool given = i < request.nvdimm_images.size() && !request.nvdimm_images[i].empty();
    spec.nvdimm_files.push_back(
        given ? std::filesystem::absolute(request.nvdimm_images[i]).lexically_normal()
              : spec.folder.nvdimm_file(i));
  }
  NVLAB_RETURN_IF_ERROR(LibvirtDomainXml(machine_, spec, xml));
  NVLAB_RETURN_IF_ERROR(PrepareLibvirtDomainFolder(machine_, request, user, &spec.nvdimm_files));
  return LibvirtDomainXml(machine_, spec, xml);
}

Status LabSession::Step(Guest* guest, const std::vector<std::string>& argv, OutputSink* sink,
                        StepResult* step) {
  step->argv = argv;
  auto start = std::chrono::steady_clock::now();
  NVLAB_RETURN_IF_ERROR(guest->Boot());
  step->boot_seconds = SecondsSince(start);
  auto pmem = guest->hello().find("NVLAB_PMEM");
  if (pmem != guest->hello().end()) step->nvlab_pmem = pmem->second;
  start = std::chrono::steady_clock::now();
  Status s = guest->Run(argv, sink, deadline_, &step->result);
  step->command_seconds = SecondsSince(start);
  if (s.code() == Status::Code::kTimeout) {
    return Status::Timeout("--timeout " + std::to_string(options_.timeout_seconds) +
                           " s expired: " + s.message());
  }
  return s;
}

Status LabSession::RunOnce(const std::vector<std::string>& argv, OutputSink* sink,
                           StepResult* step) {
  std::unique_ptr<Guest> guest;
  NVLAB_RETURN_IF_ERROR(MakeGuest(&guest));
  NVLAB_RETURN_IF_ERROR(Step(guest.get(), argv, sink, step));
  if (step->result.cut_by_guest) {
    NVLAB_RETURN_IF_ERROR(guest->PowerCut(&step->cut));
    NameUserCode(&step->cut);
    return CheckNotInterrupted("after the power cut");
  }
  return FinalPowerOff(guest.get());
}

Status LabSession::FinalPowerOff(Guest* guest) {
  Status s = guest->PowerOff(Deadline::In(kPowerOffWait).Earlier(deadline_));
  if (s.ok() || s.code() == Status::Code::kCancelled) return s;
  // The command has ended and its status is what the user asked for: a guest that does not
  // power off (QEMU is killed) is worth a warning, not a failure.
  std::cerr << "nvlab: warning: " << s.message().substr(0, s.message().find('\n')) << "\n";
  return Status::Ok();
}

Status LabSession::CheckNotInterrupted(std::string_view where) const {
  if (const int sig = InterruptionSignal()) {
    return Status::Cancelled("interrupted by signal " + std::to_string(sig) + " " +
                             std::string(where));
  }
  return Status::Ok();
}

std::vector<std::filesystem::path> LabSession::SymbolDirs() const {
  return {layout_.guest_tools_dir, options_.share_dir};
}

void LabSession::NameUserCode(CutReport* report) const {
  if (!report->present) return;
  UserSymbolizer symbolizer(SymbolDirs(), options_.verbose ? &std::cerr : nullptr);
  symbolizer.Annotate(report);
}

Status LabSession::PowerCycle(const std::vector<std::string>& before,
                              const std::vector<std::string>& after, OutputSink* sink,
                              PowerCycleResult* result, OutputSink* after_sink) {
  std::unique_ptr<Guest> guest;
  NVLAB_RETURN_IF_ERROR(MakeGuest(&guest));
  result->machine = machine_.name;
  result->persistence = ToString(machine_.persistence);
  result->model = model_enabled();
  result->on_cut = result->model ? options_.on_cut : "keep (no model)";
  guest->StageNextRestore();  // the second boot's RAM copy is made while the first one runs
  NVLAB_RETURN_IF_ERROR(Step(guest.get(), before, sink, &result->before));
  NVLAB_RETURN_IF_ERROR(guest->PowerCut(&result->cut));
  NameUserCode(&result->cut);
  // A Ctrl-C during the cut (which is not broken off: the NVDIMMs must be settled) ends the run.
  NVLAB_RETURN_IF_ERROR(CheckNotInterrupted("during the power cut"));
  NVLAB_RETURN_IF_ERROR(
      Step(guest.get(), after, after_sink != nullptr ? after_sink : sink, &result->after));
  if (result->after.result.cut_by_guest) {
    CutReport ignored;
    NVLAB_RETURN_IF_ERROR(guest->PowerCut(&ignored));
    return CheckNotInterrupted("during the power cut");
  }
  return FinalPowerOff(guest.get());
}

}  // namespace nvlab
