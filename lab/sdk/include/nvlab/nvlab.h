// File: nvlab/nvlab.h
//
// The nvlab SDK (docs/design/sdk.md): boot guests with emulated NVDIMMs from a host program, run
// commands in them and power-cycle them under the persistence model. Includes every SDK header;
// GoogleTest helpers are in nvlab/testing.h (target nvlab::testing).

#ifndef NVLAB_SDK_NVLAB_H_
#define NVLAB_SDK_NVLAB_H_

#include "nvlab/command_result.h"    // IWYU pragma: export
#include "nvlab/exit_status.h"       // IWYU pragma: export
#include "nvlab/lab.h"               // IWYU pragma: export
#include "nvlab/lab_config.h"        // IWYU pragma: export
#include "nvlab/power_cut_report.h"  // IWYU pragma: export
#include "nvlab/status.h"            // IWYU pragma: export

#endif  // NVLAB_SDK_NVLAB_H_
