/*
 * x86_64/power_cut_sequence.h -- the CPUID leaf/subleaf pair that means "cut the power now".
 *
 * NvLabPowerCut (power_cut.cc) executes CPUID with EAX = NVLAB_POWER_CUT_CPUID_LEAF and
 * ECX = NVLAB_POWER_CUT_CPUID_SUBLEAF. The lab's QEMU plugin includes this header, watches for
 * that CPUID and cuts the power at its exec callback, before the instruction runs (CPUID is
 * serializing: it would otherwise complete pending flushes). On real hardware the leaf is out of
 * range and CPUID returns harmless values. This is the only definition of the pair; C and C++.
 */
#ifndef NVRTL_SRC_X86_64_POWER_CUT_SEQUENCE_H_
#define NVRTL_SRC_X86_64_POWER_CUT_SEQUENCE_H_

#define NVLAB_POWER_CUT_CPUID_LEAF 0x4E564C43u    /* "NVLC" */
#define NVLAB_POWER_CUT_CPUID_SUBLEAF 0x50435554u /* "PCUT" */

#endif /* NVRTL_SRC_X86_64_POWER_CUT_SEQUENCE_H_ */
