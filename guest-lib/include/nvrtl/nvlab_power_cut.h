/*
 * File: nvrtl/nvlab_power_cut.h -- the instruction that asks the nvlab lab to cut the power.
 *
 * NvLabPowerCut (nvrtl.h) executes CPUID with EAX = NVLAB_POWER_CUT_CPUID_LEAF and
 * ECX = NVLAB_POWER_CUT_CPUID_SUBLEAF, and nothing else that could complete a pending flush
 * before it. The lab's QEMU plugin (lab/plugin) watches every CPUID the guest executes and, on
 * this pair, cuts the power before the instruction runs. This header is the one definition of
 * the pair, shared by the library and the plugin; anything else that wants to cut the power
 * (a program in another language, a boot loader) may execute the same CPUID.
 *
 * Why CPUID: any code may execute it (user or kernel mode, no device, driver or system call),
 * it reads no memory, and the plugin sees its EAX and ECX before it executes. Executed, CPUID is
 * serializing and would complete the flushes and non-temporal stores the cut must find still
 * pending; caught before it, it completes nothing. The leaf lies in the range Intel and AMD
 * reserve for hypervisors and software (0x40000000-0x4FFFFFFF), never a CPU's own: outside the
 * lab it only returns meaningless values, and NvLabPowerCut returns STATUS_NOT_SUPPORTED.
 *
 * The values spell "NVLC" and "PCUT" in ASCII, most significant byte first.
 *
 * Compiles as C11 and C++.
 */
#ifndef NVRTL_NVLAB_POWER_CUT_H_
#define NVRTL_NVLAB_POWER_CUT_H_

#define NVLAB_POWER_CUT_CPUID_LEAF 0x4E564C43u    /* EAX: "NVLC" */
#define NVLAB_POWER_CUT_CPUID_SUBLEAF 0x50435554u /* ECX: "PCUT" */

#endif /* NVRTL_NVLAB_POWER_CUT_H_ */
