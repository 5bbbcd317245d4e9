// lab_config.cc -- ValidateLabConfig, LabOptionsFromConfig.

#include "lab_options_from_config.h"

#include "nvlab/model/cut_policy.h"

namespace nvlab {

namespace {
// The bounds of nvlab's --timeout (docs/design/interfaces.md, the lab options).
constexpr int kMaxTimeoutSeconds = 86400;
}  // namespace

Status ValidateLabConfig(const LabConfig& config) {
  if (config.machine.empty()) return Status::InvalidArgument("machine: empty");
  if (config.timeout_seconds < 1 || config.timeout_seconds > kMaxTimeoutSeconds) {
    return Status::InvalidArgument("timeout_seconds: " + std::to_string(config.timeout_seconds) +
                                   " is not in 1 to " + std::to_string(kMaxTimeoutSeconds));
  }
  if (config.hang_timeout_seconds < 0 || config.hang_timeout_seconds > kMaxTimeoutSeconds) {
    return Status::InvalidArgument(
        "hang_timeout_seconds: " + std::to_string(config.hang_timeout_seconds) +
        " is not in 0 to " + std::to_string(kMaxTimeoutSeconds));
  }
  model::CutPolicy policy;
  std::string error;
  if (model::ParseCutPolicy(config.on_cut, &policy, &error) != model::ModelStatus::kOk) {
    return Status::InvalidArgument("on_cut: " + error);
  }
  if (!config.model && config.on_cut != "lose") {
    return Status::InvalidArgument("on_cut: '" + config.on_cut +
                                   "' needs the persistence model (model is false)");
  }
  for (size_t i = 0; i < config.nvdimm_images.size(); ++i) {
    if (config.nvdimm_images[i].empty()) {
      return Status::InvalidArgument("nvdimm_images[" + std::to_string(i) + "]: empty");
    }
  }
  return Status::Ok();
}

LabOptions LabOptionsFromConfig(const LabConfig& config) {
  LabOptions options;
  options.machine = config.machine;
  options.share_dir = config.share_dir.string();
  options.model = config.model;
  switch (config.persistence) {
    case LabPersistence::kMachine:
      break;
    case LabPersistence::kAdr:
      options.persistence = Persistence::kAdr;
      break;
    case LabPersistence::kEadr:
      options.persistence = Persistence::kEadr;
      break;
  }
  options.on_cut = config.on_cut;
  for (const auto& image : config.nvdimm_images) options.nvdimm_images.push_back(image.string());
  options.cold = config.cold;
  options.timeout_seconds = config.timeout_seconds;
  options.hang_timeout_seconds = config.hang_timeout_seconds;
  options.verbose = config.verbose;
  return options;
}

}  // namespace nvlab
