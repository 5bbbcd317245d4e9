// crash_image.cc -- MakeCrashImage, HashImageLines, CrashImageIndex.
#include "nvlab/explore/crash_image.h"

#include <cstring>

namespace nvlab::explore {
namespace {

// Mix -- (internal) SplitMix64's finaliser: every input bit reaches every output bit.
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t HashImageLines(const std::vector<ImageLine>& lines) {
  uint64_t hash = Mix(lines.size() + 0x9E3779B97F4A7C15ULL);
  for (const ImageLine& line : lines) {
    hash = Mix(hash ^ line.gpa) + 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < kLineBytes; i += 8) {
      uint64_t word = 0;
      std::memcpy(&word, line.content.data() + i, sizeof word);
      hash = Mix(hash ^ word) + 0x9E3779B97F4A7C15ULL;
    }
  }
  return hash;
}

CrashImage MakeCrashImage(const CrashStateSpace& space, const StateChoices& choices,
                          const std::function<uint64_t(const std::vector<ImageLine>&)>& hash) {
  CrashImage image;
  size_t d = 0;
  for (size_t u = 0; u <= space.undetermined.size(); ++u) {
    const uint64_t limit = u < space.undetermined.size() ? space.undetermined[u].gpa : ~uint64_t{0};
    while (d < space.determined.size() && space.determined[d].gpa < limit) {
      image.lines.push_back({space.determined[d].gpa, space.determined[d].content});
      ++d;
    }
    if (u < space.undetermined.size()) {
      const UndeterminedLine& line = space.undetermined[u];
      const LineBytes& content = line.candidates[choices[u]];
      if (content != line.initial) image.lines.push_back({line.gpa, content});
    }
  }
  image.hash = hash(image.lines);
  return image;
}

int64_t CrashImageIndex::Find(const CrashImage& image) const {
  auto [first, end] = by_hash_.equal_range(image.hash);
  for (auto it = first; it != end; ++it) {
    if (images_[it->second].lines == image.lines) return static_cast<int64_t>(it->second);
  }
  return -1;
}

std::pair<size_t, bool> CrashImageIndex::Insert(CrashImage image) {
  if (int64_t found = Find(image); found >= 0) return {static_cast<size_t>(found), false};
  const size_t index = images_.size();
  by_hash_.emplace(image.hash, index);
  images_.push_back(std::move(image));
  return {index, true};
}

}  // namespace nvlab::explore
