// power_cut_report_from.h -- the host library's CutReport (nvlab/cut_report.h) as the SDK's
// PowerCutReport (private to lab/sdk; the unit tests include it).

#ifndef NVLAB_SDK_SRC_POWER_CUT_REPORT_FROM_H_
#define NVLAB_SDK_SRC_POWER_CUT_REPORT_FROM_H_

#include "nvlab/cut_report.h"
#include "nvlab/power_cut_report.h"

namespace nvlab {

// PowerCutReportFrom copies every field the SDK shows; `description` is DescribeLostLine's.
PowerCutReport PowerCutReportFrom(const CutReport& cut);

}  // namespace nvlab

#endif  // NVLAB_SDK_SRC_POWER_CUT_REPORT_FROM_H_
