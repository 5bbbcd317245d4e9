/*
 * File: nvrtl/nvlab_recording_marker.h -- the instructions that start and end a recording.
 *
 * Crash-state exploration (docs/design/exploration.md) records one run of a workload: every
 * NVDIMM store, flush and fence from the moment the workload starts to the moment it ends, not
 * the boot or the NVDIMM setup before it, nor the shutdown after it. The guest marks those two
 * moments with CPUID, as nvlab_power_cut.h does for a power cut: EAX = NVLAB_POWER_CUT_CPUID_LEAF
 * and ECX = one of the subleaves below. The lab's agent executes them around the workload when
 * the host asks for a recording; a program may execute them itself to record a narrower window.
 *
 * At the begin mark the lab's QEMU plugin (lab/plugin, option record=) takes the NVDIMMs'
 * contents as the recording's initial images, every line counted as persisted (the setup that
 * ran before made it durable), and records from the next instruction on. At the end mark (or
 * when QEMU ends without one) it writes the recording's end. Without record=, both are no-ops.
 * Outside the lab the leaf returns meaningless values (see nvlab_power_cut.h).
 *
 * The values spell "RBEG" and "REND" in ASCII, most significant byte first.
 *
 * Compiles as C11 and C++.
 */
#ifndef NVRTL_NVLAB_RECORDING_MARKER_H_
#define NVRTL_NVLAB_RECORDING_MARKER_H_

#include "nvrtl/nvlab_power_cut.h"

#define NVLAB_RECORDING_BEGIN_CPUID_SUBLEAF 0x52424547u /* ECX: "RBEG" */
#define NVLAB_RECORDING_END_CPUID_SUBLEAF 0x52454E44u   /* ECX: "REND" */

#endif /* NVRTL_NVLAB_RECORDING_MARKER_H_ */
