// File: nvlab/qemu_command_line.h
//
// QemuCommandLine turns a Machine plus the files of one boot into the argv of
// qemu-system-x86_64. The guest starts paused (-S): the launcher connects QMP and the agent
// socket first, then continues it, so no byte the guest says is lost.
//
// The layout it produces (docs/design/platform.md):
//   -machine pc,nvdimm=on,nvdimm-persistence=mem-ctrl|cpu   -cpu max   -smp N
//   RAM as memory-backend-file (share=on) per NUMA node, so the persistence model can walk the
//   guest's page tables; each NVDIMM as memory-backend-file,share=on + nvdimm,addr=<base>;
//   the serial console to a file or to nvlab's console socket; QMP and the agent's virtio-serial
//   port on unix sockets; -kernel/-initrd (uncompressed: the fastest boot under TCG); -no-reboot.
//
// Thread-safety: a pure function.

#ifndef NVLAB_QEMU_COMMAND_LINE_H_
#define NVLAB_QEMU_COMMAND_LINE_H_

#include <filesystem>
#include <string>
#include <vector>

#include "nvlab/guest_timer_calibration.h"
#include "nvlab/machine.h"

namespace nvlab {

enum class Accel { kTcg, kKvm };

// QemuLaunch is everything one boot needs beyond the Machine.
struct QemuLaunch {
  std::string qemu = "qemu-system-x86_64";
  Accel accel = Accel::kTcg;
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::vector<std::filesystem::path> nvdimm_files;  // one per Machine::nvdimms, same order
  std::vector<std::filesystem::path> ram_files;     // one per NUMA node
  std::filesystem::path qmp_socket;
  std::filesystem::path agent_socket;
  std::filesystem::path console_log;
  // console_socket, when set, replaces console_log: QEMU connects the console to this unix
  // socket, where nvlab's ConsoleRecorder (nvlab/console_recorder.h) listens and keeps a capped
  // log. Not a device: a guest saved with one console backend restores with the other.
  std::filesystem::path console_socket;
  std::filesystem::path share_dir;  // empty: no share; else mounted at /host in the guest
  // plugin is the -plugin value ("FILE,key=value,..."); empty: none. TCG always runs one thread
  // (thread=single), so a cut taken inside a vCPU callback is atomic for all vCPUs.
  std::string plugin;
  bool deterministic = false;  // -icount shift=5,sleep=off -seed 1 -rtc clock=vm, fixed base
  // template_stage: the guest's init stops before touching the NVDIMMs (nvlab.template=1) and
  // waits for the host's resume request, which carries the NVDIMM settings; the kernel command
  // line then holds none, so one saved guest serves every namespace mode (warm starts).
  bool template_stage = false;
  // preload_drivers (template stage): the agent loads the NVDIMM drivers before its hello, so
  // that warm starts find them loaded (docs/design/nvdimm-setup.md). False for a boot that is
  // resumed at once and never saved (a cold boot): nvlab.preload=0, and the resume's setup
  // loads only the drivers that machine needs (ext4 alone costs 0.2 s under TCG).
  bool preload_drivers = true;
  // incoming: QEMU waits for migrate-incoming (-incoming defer) instead of booting: a warm start
  // restores a guest saved at the template stage.
  bool incoming = false;
  // firmware: -bios FILE (nvlab/qemu_firmware.h: qboot); empty: QEMU's default (SeaBIOS).
  std::filesystem::path firmware;
  // timer_calibration: lpj= (nvlab/guest_timer_calibration.h); zero: none, the kernel
  // calibrates.
  GuestTimerCalibration timer_calibration;
  // gdb_port: QEMU's gdbstub listens on 127.0.0.1:gdb_port (-gdb tcp:...; nvlab --gdb); the
  // guest starts stopped (-S) anyway. 0: no gdbstub.
  uint16_t gdb_port = 0;
};

// KernelCommandLine is the -append text: the console and the nvlab.* settings the guest's init
// reads (lab/guest/init).
std::string KernelCommandLine(const Machine& machine, const QemuLaunch& launch);

std::vector<std::string> QemuCommandLine(const Machine& machine, const QemuLaunch& launch);

// QemuOptionValue writes a path as the value of a QEMU option (QemuOpts' key=value lists, the
// -plugin argument): QEMU reads ",," as one ',', so every ',' is doubled.
std::string QemuOptionValue(const std::filesystem::path& path);

}  // namespace nvlab

#endif  // NVLAB_QEMU_COMMAND_LINE_H_
