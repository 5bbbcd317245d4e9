// guest_random.cc -- nvlab-guest-random, a static guest program for the warm-start tests: prints
// what a process gets from the kernel's RNG when it starts, which must differ between guests
// restored from one template:
//   canary=<16 hex digits>      the stack protector's canary (glibc copies it to %fs:0x28)
//   at_random=<32 hex digits>   the 16 bytes the kernel put behind AT_RANDOM at exec

#include <sys/auxv.h>

#include <cstdint>
#include <cstdio>

int main() {
  uint64_t canary = 0;
  asm volatile("mov %%fs:0x28, %0" : "=r"(canary));
  std::printf("canary=%016llx\n", static_cast<unsigned long long>(canary));
  // getauxval returns the address as an integer: the cast is the API's.
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  const auto* random = reinterpret_cast<const unsigned char*>(getauxval(AT_RANDOM));
  std::printf("at_random=");
  for (int i = 0; random != nullptr && i < 16; ++i) std::printf("%02x", random[i]);
  std::printf("\n");
  return 0;
}
