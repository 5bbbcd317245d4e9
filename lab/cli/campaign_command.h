// campaign_command.h -- `nvlab campaign FILE` and `nvlab campaign merge SHARD.json...`: the
// campaign library (lab/campaign) driven from the command line, with LabSession power-cycles as
// its cases.
//
// Both return nvlab's exit status: 0 every case passed; 1 some case failed, erred, did not run
// or (merge --allow-missing) is missing; 2 a bad campaign file, report or output path; 125 the
// lab cannot run at all (before any case); 130 interrupted.
//
// Thread-safety: call from the main thread once per process (they run the worker threads).

#ifndef NVLAB_CAMPAIGN_COMMAND_H_
#define NVLAB_CAMPAIGN_COMMAND_H_

#include "cli_options.h"

namespace nvlab {

int RunCampaign(const CampaignOptions& options);
int RunCampaignMerge(const CampaignOptions& options);

}  // namespace nvlab

#endif  // NVLAB_CAMPAIGN_COMMAND_H_
