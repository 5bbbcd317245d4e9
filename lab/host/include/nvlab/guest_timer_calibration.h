// File: nvlab/guest_timer_calibration.h
//
// A kernel parameter that spares a TCG guest's kernel a timer calibration at boot, with the
// value the calibration should find (BENCHMARKS.md, "Cold boot"):
//
//   lpj=N  loops per jiffy of the delay loop. The kernel derives it from the TSC on the first
//          vCPU, but the second one calibrates its own, which under TCG fails ("Consider using
//          lpj=") and ends in a slow fallback loop (0.22 s) with a wrong result (0.51 BogoMIPS
//          against 5389). With TSC-based delays a loop is a TSC cycle, and a TCG guest's TSC is
//          the host's: N = host TSC Hz / HZ.
//
// (The local APIC timer's 100 ms calibration against the PM timer stays: Linux 6.1 has no
// parameter to preset it; `lapic_timer_period=` is not one, it would reach init's environment.)
//
// HZ is the guest kernel's tick rate (kGuestKernelHz, checked when the image is built). The host
// TSC rate is measured against CLOCK_MONOTONIC_RAW, and only when the host says its TSC is
// constant (constant_tsc and nonstop_tsc in /proc/cpuinfo); otherwise, under KVM (the guest's
// TSC may be scaled), under `--deterministic` (its TSC is virtual time) or on a host that is not
// x86-64, no parameter is given and the kernel calibrates as before.
//
// Thread-safety: free functions, no state.

#ifndef NVLAB_GUEST_TIMER_CALIBRATION_H_
#define NVLAB_GUEST_TIMER_CALIBRATION_H_

#include <cstdint>
#include <string>

namespace nvlab {

struct GuestTimerCalibration {
  uint64_t loops_per_jiffy = 0;  // 0: not given
};

// HostTscHertz measures the host's TSC rate; 0 when the host has no constant TSC (or is not
// x86-64).
uint64_t HostTscHertz();

// TcgTimerCalibration is the calibration for a TCG guest on this host (see above); zeros for
// `deterministic` guests.
GuestTimerCalibration TcgTimerCalibration(bool deterministic);

// KernelParameters renders it: "lpj=N" ("" when not given).
std::string KernelParameters(const GuestTimerCalibration& calibration);

}  // namespace nvlab

#endif  // NVLAB_GUEST_TIMER_CALIBRATION_H_
