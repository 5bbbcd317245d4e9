// argv_echo.cc -- stands in for the real QEMU behind a test build of nvlab-qemu: writes its
// argv to stdout, each argument followed by a NUL byte, and exits 0.

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    (void)std::fwrite(argv[i], 1, std::strlen(argv[i]) + 1, stdout);
  }
  return 0;
}
