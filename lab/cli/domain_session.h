// domain_session.h -- `nvlab run --domain` and `nvlab power-cycle --domain`: the same steps,
// results and output as LabSession's for guests nvlab boots, on a libvirt domain (DomainGuest,
// lab/libvirt). The domain must be running; nvlab leaves it running (power-cycle: booted again
// after the cut), except after a command that cut the power itself.

#ifndef NVLAB_DOMAIN_SESSION_H_
#define NVLAB_DOMAIN_SESSION_H_

#include <string>
#include <vector>

#include "cli_options.h"
#include "lab_session.h"
#include "nvlab/agent_session.h"
#include "nvlab/status.h"

namespace nvlab {

// RunOnDomain attaches to options.domain, runs argv, and when the command cut the power itself
// collects the cut report into step->cut. step->boot_seconds is the time to attach.
Status RunOnDomain(const CliOptions& options, const std::vector<std::string>& argv,
                   OutputSink* sink, StepResult* step);

// PowerCycleOnDomain attaches, checks the domain can be power-cut (before running anything),
// runs before, cuts the power, boots the domain again, runs after. The result's machine,
// persistence and on-cut come from the domain (its nvlab metadata and plugin options).
Status PowerCycleOnDomain(const CliOptions& options, const std::vector<std::string>& before,
                          const std::vector<std::string>& after, OutputSink* sink,
                          PowerCycleResult* result);

}  // namespace nvlab

#endif  // NVLAB_DOMAIN_SESSION_H_
