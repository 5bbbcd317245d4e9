// nvlab_qemu.cc -- nvlab-qemu, the <emulator> of nvlab's libvirt domains: execs the real QEMU
// (NVLAB_QEMU_BINARY, compiled in) with libvirt's argv rewritten by qemu_argv_rewrite.h.
// README.md says what changes and why.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "qemu_argv_rewrite.h"

#ifndef NVLAB_QEMU_BINARY
#error "NVLAB_QEMU_BINARY (the real QEMU's path) must be defined by the build"
#endif

int main(int argc, char** argv) {
  const std::vector<std::string> args =
      nvlab::emulator::RewriteQemuArguments(std::vector<std::string>(argv + 1, argv + argc));
  // argv[0] names the real QEMU, so that ps and /proc/PID/cmdline show what runs.
  std::vector<char*> exec_argv;
  exec_argv.push_back(const_cast<char*>(NVLAB_QEMU_BINARY));
  for (const std::string& arg : args) exec_argv.push_back(const_cast<char*>(arg.c_str()));
  exec_argv.push_back(nullptr);
  execv(NVLAB_QEMU_BINARY, exec_argv.data());
  const int err = errno;
  // libvirt shows QEMU's stderr in its error (and the domain log): one line that says it all.
  (void)std::fprintf(stderr, "nvlab-qemu: cannot run the real QEMU %s: %s\n", NVLAB_QEMU_BINARY,
                     std::strerror(err));
  return 127;
}
