// lab_options_from_config.h -- the SDK's LabConfig as the session's LabOptions (private to
// lab/sdk; the unit tests include it).

#ifndef NVLAB_SDK_SRC_LAB_OPTIONS_FROM_CONFIG_H_
#define NVLAB_SDK_SRC_LAB_OPTIONS_FROM_CONFIG_H_

#include "nvlab/lab_config.h"
#include "nvlab/lab_options.h"

namespace nvlab {

// LabOptionsFromConfig carries every LabConfig field over to the LabOptions nvlab's command line
// would give (the prefix aside: that is the session's InstallLayout). `config` is valid
// (ValidateLabConfig).
LabOptions LabOptionsFromConfig(const LabConfig& config);

}  // namespace nvlab

#endif  // NVLAB_SDK_SRC_LAB_OPTIONS_FROM_CONFIG_H_
