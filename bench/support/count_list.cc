// count_list.cc -- ParseCountList.

#include "count_list.h"

#include <cstdlib>
#include <sstream>

namespace nvlab::bench {

std::vector<int> ParseCountList(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const int k = std::atoi(item.c_str());
    if (k > 0) out.push_back(k);
  }
  return out;
}

}  // namespace nvlab::bench
