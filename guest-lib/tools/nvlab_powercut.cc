// nvlab_powercut.cc -- nvlab-powercut: asks the lab to cut the power now.
//
// Under the lab's persistence model NvLabPowerCut does not return. Anywhere else it does, and
// this program says so and exits 1.
#include <cstdio>

#include "nvrtl/nvrtl.h"

int main() {
  NvLabPowerCut();
  (void)std::fputs("nvlab-powercut: not running under the nvlab lab's persistence model\n", stderr);
  return 1;
}
