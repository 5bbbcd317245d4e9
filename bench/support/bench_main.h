// bench_main.h -- what the benches' main functions share: the libraries they use (std::filesystem,
// nlohmann::json) report the unexpected by exceptions, which end a bench with one line.

#ifndef NVLAB_BENCH_SUPPORT_BENCH_MAIN_H_
#define NVLAB_BENCH_SUPPORT_BENCH_MAIN_H_

#include <cstdio>
#include <exception>

namespace nvlab::bench {

// RunBench returns bench(argc, argv), or 1 after printing "NAME: what" when it throws.
template <typename Bench>
int RunBench(const char* name, Bench bench, int argc, char** argv) noexcept {
  try {
    return bench(argc, argv);
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace nvlab::bench

#endif  // NVLAB_BENCH_SUPPORT_BENCH_MAIN_H_
