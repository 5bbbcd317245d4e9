// count_list.h -- the benches' "1,2,4" options: comma-separated positive counts.

#ifndef NVLAB_BENCH_SUPPORT_COUNT_LIST_H_
#define NVLAB_BENCH_SUPPORT_COUNT_LIST_H_

#include <string>
#include <vector>

namespace nvlab::bench {

// ParseCountList reads "1,2,4" into {1, 2, 4}; items that are not positive numbers are dropped.
std::vector<int> ParseCountList(const std::string& text);

}  // namespace nvlab::bench

#endif  // NVLAB_BENCH_SUPPORT_COUNT_LIST_H_
