// File: nvlab/agent/recording_mark.h
//
// The agent's side of a recorded command (agent protocol frame exec-recorded): it executes the
// recording's begin mark just before the command starts and the end mark once it has ended
// (nvrtl/nvlab_recording_marker.h), so that the lab's plugin records the command's NVDIMM writes
// and nothing of the boot, the setup or the shutdown around them.
//
// Thread-safety: plain functions.

#ifndef NVLAB_AGENT_RECORDING_MARK_H_
#define NVLAB_AGENT_RECORDING_MARK_H_

namespace nvlab::agent {

// MarkRecordingBegin and MarkRecordingEnd execute the CPUID pair; outside the lab (or without
// a recording) they do nothing observable.
void MarkRecordingBegin();
void MarkRecordingEnd();

}  // namespace nvlab::agent

#endif  // NVLAB_AGENT_RECORDING_MARK_H_
