// recording_mark.cc -- the CPUID recording marks.

#include "nvlab/agent/recording_mark.h"

#include "nvrtl/nvlab_recording_marker.h"

namespace nvlab::agent {
namespace {

void ExecuteMark(unsigned subleaf) {
  unsigned eax = NVLAB_POWER_CUT_CPUID_LEAF;
  unsigned ebx = 0;
  unsigned ecx = subleaf;
  unsigned edx = 0;
  // volatile: the instruction's effect is outside the program (the plugin sees it).
  __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
}

}  // namespace

void MarkRecordingBegin() {
  ExecuteMark(NVLAB_RECORDING_BEGIN_CPUID_SUBLEAF);
}
void MarkRecordingEnd() {
  ExecuteMark(NVLAB_RECORDING_END_CPUID_SUBLEAF);
}

}  // namespace nvlab::agent
