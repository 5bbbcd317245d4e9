// qemu_command_line.cc -- QemuCommandLine, KernelCommandLine, QemuOptionValue.

#include "nvlab/qemu_command_line.h"
#include "nvlab/hex.h"

#include <algorithm>
#include <cstdio>

namespace nvlab {

namespace {

// What every nvlab guest kernel gets. Beside the console, quiet (a serial line costs TCG time)
// and panic=-1 (a panic powers the guest off: QEMU runs with -no-reboot), four parameters cut the
// cold boot under TCG, each measured with initcall_debug (BENCHMARKS.md, "Cold boot"), and one
// keeps it from failing on a loaded host:
//   cryptomgr.notests  no self-tests of the kernel's crypto algorithms (the deferred ones alone
//                      took 0.23 s, hmac(sha256)'s for CTR-KDF more); the algorithms themselves
//                      are the same, and no guest test relies on the kernel's self-tests.
//   rodata=off         no read-only/no-execute split of the kernel image at the end of boot,
//                      and so no W+X page-table walk after it (0.17-0.25 s): a lab guest's
//                      kernel hardening is not what nvlab tests.
//   swiotlb=2048       a 4 MiB DMA bounce-buffer pool instead of 64 MiB. The kernel sets one up
//                      because the machine's memory map (the hotpluggable range that holds the
//                      NVDIMMs) reaches above 4 GiB, and zeroes it at boot, byte by byte under
//                      TCG (`rep stosb`): a tenth of the guest time up to init (-icount boots).
//                      No device of an nvlab guest bounces (they are all virtio devices, which
//                      address 64 bits); the guest has 60 MiB more free memory.
//   init_on_alloc=0    Debian's kernel zeroes every page and object it allocates (hardening
//                      against its own use of uninitialised memory), every page of the unpacked
//                      initramfs too: 8% of the guest time up to init. Memory handed to user
//                      space is zeroed all the same.
//   no_timer_check     no check that the IO-APIC timer ticks within a few milliseconds: under
//                      TCG on a busy host it may not, and the kernel then panics ("IO-APIC +
//                      timer doesn't work!", seen in a cold boot of nvlab-bench at load 9.6).
constexpr const char* kKernelBootParameters =
    "console=ttyS0 quiet panic=-1 cryptomgr.notests rodata=off swiotlb=2048 init_on_alloc=0 "
    "no_timer_check";

}  // namespace

std::string KernelCommandLine(const Machine& machine, const QemuLaunch& launch) {
  const std::string calibration = KernelParameters(launch.timer_calibration);
  const std::string parameters =
      std::string(kKernelBootParameters) + (calibration.empty() ? "" : " " + calibration);
  if (launch.template_stage) {
    // nvlab.labels=1: the guest must not read the NVDIMMs' label areas before the resume
    // (docs/design/nvdimm-setup.md), so it leaves the NVDIMM bus driver unloaded until then.
    const bool labels = std::any_of(machine.nvdimms.begin(), machine.nvdimms.end(),
                                    [](const Nvdimm& d) { return d.label_size != 0; });
    return parameters + " nvlab.template=1" + (launch.share_dir.empty() ? "" : " nvlab.share=1") +
           (labels ? " nvlab.labels=1" : "") + (launch.preload_drivers ? "" : " nvlab.preload=0");
  }
  std::string text = parameters + " nvlab.ns=";
  text += ToString(machine.namespace_mode);
  text += " nvlab.nvdimms=" + std::to_string(machine.nvdimms.size());
  if (machine.namespace_mode == NamespaceMode::kFsdax) {
    text += " nvlab.fs=";
    text += ToString(machine.filesystem);
  }
  if (!launch.share_dir.empty()) text += " nvlab.share=1";
  return text;
}

std::string QemuOptionValue(const std::filesystem::path& path) {
  std::string out;
  for (char c : path.string()) {
    out.push_back(c);
    if (c == ',') out.push_back(',');
  }
  return out;
}

std::vector<std::string> QemuCommandLine(const Machine& machine, const QemuLaunch& launch) {
  std::vector<std::string> argv = {launch.qemu, "-nodefaults", "-no-user-config", "-display",
                                   "none",      "-S",          "-no-reboot"};
  auto add = [&argv](std::initializer_list<std::string> items) {
    argv.insert(argv.end(), items.begin(), items.end());
  };
  std::string machine_opt = "pc,nvdimm=on,nvdimm-persistence=";
  machine_opt += machine.persistence == Persistence::kEadr ? "cpu" : "mem-ctrl";
  const bool one_node = machine.numa_nodes == 1;
  if (one_node) machine_opt += ",memory-backend=ram0";
  add({"-machine", machine_opt});
  if (launch.accel == Accel::kKvm) {
    add({"-accel", "kvm", "-cpu", "host"});
  } else {
    // One TCG thread, plugin or not: the plugin's cuts must be atomic for all vCPUs, and QEMU
    // 10.0.2's multi-threaded TCG can abort in iotlb_to_section() while Linux sets up PCI (a
    // vCPU uses a memory map another vCPU replaced and RCU freed: QEMU issue 3040). Boot takes
    // as long either way (BENCHMARKS.md).
    std::string cpu = machine.cpu;
    for (const CpuFeatureChange& f : machine.cpu_features) {
      cpu += "," + f.name + (f.enable ? "=on" : "=off");
    }
    add({"-accel", "tcg,thread=single", "-cpu", cpu});
  }
  add({"-smp", std::to_string(machine.vcpus)});
  add({"-m", FormatSize(machine.memory) + ",slots=" + std::to_string(machine.nvdimms.size()) +
                 ",maxmem=" + FormatSize(machine.MaxMemory())});

  const uint64_t node_ram = machine.memory / static_cast<uint64_t>(machine.numa_nodes);
  for (int n = 0; n < machine.numa_nodes; ++n) {
    const std::string id = "ram" + std::to_string(n);
    std::string backend = "memory-backend-file,id=" + id + ",size=" + FormatSize(node_ram) +
                          ",share=on,mem-path=" + QemuOptionValue(launch.ram_files.at(n));
    add({"-object", backend});
    if (!one_node) {
      // vCPUs are dealt round-robin over the nodes.
      std::string node = "node,nodeid=" + std::to_string(n) + ",memdev=" + id;
      for (int cpu = n; cpu < machine.vcpus; cpu += machine.numa_nodes) {
        node += ",cpus=" + std::to_string(cpu);
      }
      add({"-numa", node});
    }
  }
  for (size_t i = 0; i < machine.nvdimms.size(); ++i) {
    const Nvdimm& d = machine.nvdimms[i];
    const std::string id = std::to_string(i);
    add({"-object", "memory-backend-file,id=nv" + id + ",share=on,size=" + FormatSize(d.size) +
                        ",mem-path=" + QemuOptionValue(launch.nvdimm_files.at(i))});
    std::string dev = "nvdimm,id=nvdimm" + id + ",memdev=nv" + id +
                      ",addr=" + FormatHex(machine.NvdimmBase(i)) +
                      ",node=" + std::to_string(d.node);
    if (d.label_size != 0) dev += ",label-size=" + FormatSize(d.label_size);
    add({"-device", dev});
  }
  if (!launch.firmware.empty()) add({"-bios", launch.firmware.string()});
  add({"-kernel", launch.kernel.string(), "-initrd", launch.initrd.string(), "-append",
       KernelCommandLine(machine, launch)});
  if (launch.console_socket.empty()) {
    add({"-chardev", "file,id=console,path=" + QemuOptionValue(launch.console_log), "-serial",
         "chardev:console"});
  } else {
    // QEMU is the client: nvlab listens before QEMU starts, so no byte is lost.
    add({"-chardev", "socket,id=console,path=" + QemuOptionValue(launch.console_socket), "-serial",
         "chardev:console"});
  }
  add({"-chardev", "socket,id=qmp,server=on,wait=off,path=" + QemuOptionValue(launch.qmp_socket),
       "-mon", "chardev=qmp,mode=control"});
  add({"-device", "virtio-serial-pci,id=vser", "-chardev",
       "socket,id=agent,server=on,wait=off,path=" + QemuOptionValue(launch.agent_socket), "-device",
       "virtserialport,bus=vser.0,chardev=agent,name=org.nvlab.agent"});
  if (!launch.share_dir.empty()) {
    add({"-virtfs", "local,id=share,path=" + QemuOptionValue(launch.share_dir) +
                        ",mount_tag=nvlab_share,security_model=none"});
  }
  if (!launch.plugin.empty()) add({"-plugin", launch.plugin});
  if (launch.deterministic) {
    add({"-icount", "shift=5,sleep=off", "-seed", "1", "-rtc",
         "base=2020-01-01T00:00:00,clock=vm"});
  }
  if (launch.incoming) add({"-incoming", "defer"});
  if (launch.gdb_port != 0) add({"-gdb", "tcp:127.0.0.1:" + std::to_string(launch.gdb_port)});
  return argv;
}

}  // namespace nvlab
