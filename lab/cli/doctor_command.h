// doctor_command.h -- `nvlab doctor [--json]`: the host's checks (doctor_checks.h) against the
// real system, printed one line each (or as JSON) on stdout. Exit 0 when every essential check
// passes, 1 otherwise.

#ifndef NVLAB_CLI_DOCTOR_COMMAND_H_
#define NVLAB_CLI_DOCTOR_COMMAND_H_

#include "cli_options.h"

namespace nvlab {

int RunDoctor(const CliOptions& options);

}  // namespace nvlab

#endif  // NVLAB_CLI_DOCTOR_COMMAND_H_
