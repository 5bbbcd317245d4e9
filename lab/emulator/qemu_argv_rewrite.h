// File: qemu_argv_rewrite.h
//
// The argument rewriting of `nvlab-qemu`, the `<emulator>` of nvlab's libvirt domains: libvirt
// starts QEMU with an argv it builds itself, and two things in it must change for the nvlab
// plugin to work (README.md says why):
//
//   1. `-accel tcg` (or `-accel tcg,...` without `thread=`) gets `,thread=single`: the plugin's
//      power cuts must be atomic across vCPUs, and libvirt always emits multi-threaded TCG.
//   2. A `-plugin` whose file's basename is `nvlab-plugin.so` and that has no `ram=` gets
//      `,ram=BASE:SIZE:PATH` for each guest-RAM file (GuestRamFile), as nvlab's own launcher
//      gives it: the paths embed the domain's run-time id, unknown when its XML is written.
//
// Everything else, and anything that does not parse, is passed through unchanged: libvirt also
// runs the emulator to probe it (`-machine none`, `-version`, `-help`, ...), and such a run must
// behave exactly as the real QEMU's.
//
// The argv is QEMU's syntax: an option is `-name` or `--name` followed by its value as the next
// argument. `-object` values come as JSON (`{"qom-type":"memory-backend-file",...}`, which
// libvirt uses) or as QEMU's key=value list (`memory-backend-file,id=ram-node0,...`), where a
// comma inside a value is written doubled (`,,`). The `ram=` this adds doubles the commas of its
// path the same way, since QEMU reads the `-plugin` value as such a list.
//
// Not rewritten, on purpose: `-machine ...,accel=tcg` (libvirt never emits it, and its accelerator
// takes no thread= there), `-accel accel=tcg` (the explicit key form; libvirt never emits it).
//
// Thread-safety: pure functions.

#ifndef NVLAB_EMULATOR_QEMU_ARGV_REWRITE_H_
#define NVLAB_EMULATOR_QEMU_ARGV_REWRITE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace nvlab::emulator {

// GuestRamFile is one guest-RAM region backed by a shared file, as the plugin's ram= takes it.
struct GuestRamFile {
  uint64_t base = 0;  // Guest-physical address: the sum of the earlier nodes' sizes.
  uint64_t size = 0;  // Bytes.
  std::string path;   // The backend's mem-path, as a plain string (commas not doubled).

  bool operator==(const GuestRamFile&) const = default;
};

// FindGuestRamFiles returns the guest-RAM files of a QEMU argv (without argv[0]), in node order.
// Guest RAM is the memory-backend objects libvirt names `ram-node<N>` (one per NUMA node, nodes
// laid out from address 0 in N order) or, with no such object, `pc.ram` (at 0). Of these, the
// `memory-backend-file` ones with `share` on give a file; the others (anonymous RAM, a private
// file mapping that never shows the guest's memory) still count for the later nodes' bases.
// Empty when there is none, when node numbers are missing or repeated, or when any guest-RAM
// object cannot be read (size, mem-path): partial ram= would misplace the plugin's page walks,
// and the plugin works without any.
std::vector<GuestRamFile> FindGuestRamFiles(const std::vector<std::string>& args);

// RewriteQemuArguments returns the argv (without argv[0]) that nvlab-qemu passes to the real
// QEMU: `args` with the two changes above applied, everything else as it was.
std::vector<std::string> RewriteQemuArguments(const std::vector<std::string>& args);

}  // namespace nvlab::emulator

#endif  // NVLAB_EMULATOR_QEMU_ARGV_REWRITE_H_
