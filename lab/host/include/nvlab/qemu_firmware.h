// File: nvlab/qemu_firmware.h
//
// The firmware nvlab's own QEMU boots with. nvlab boots the kernel directly (-kernel, PVH), so
// the firmware only has to hand the ACPI tables QEMU builds (the NFIT among them) to the kernel
// and jump to the PVH entry. qboot, QEMU's minimal firmware, does that with less host CPU than
// SeaBIOS, QEMU's default (BENCHMARKS.md, "Cold boot"); it ships with QEMU as qboot.rom. Where
// it is missing, QEMU's default firmware is used.
//
// What a guest can tell: the DMI BIOS vendor (/sys/class/dmi/id/bios_vendor "qboot" instead of
// "SeaBIOS"), and a slightly different memory map (the ACPI tables sit below 1 MiB, so about
// 130 KiB more RAM is usable). The ACPI tables themselves (NFIT, SRAT, ...) and the devices are
// QEMU's, as with SeaBIOS. libvirt domains keep libvirt's firmware choice (SeaBIOS).
//
// Thread-safety: a free function, no state.

#ifndef NVLAB_QEMU_FIRMWARE_H_
#define NVLAB_QEMU_FIRMWARE_H_

#include <filesystem>
#include <string>

namespace nvlab {

// MinimalFirmwareFor returns qboot.rom of the QEMU that `qemu` names (a program in PATH or a
// path): looked up in that QEMU's data folder (../share/qemu beside its bin folder), then in
// /usr/share/qemu. Empty when there is none.
std::filesystem::path MinimalFirmwareFor(const std::string& qemu);

}  // namespace nvlab

#endif  // NVLAB_QEMU_FIRMWARE_H_
