// File: nvlab/explore/crash_image.h
//
// CrashImage is one crash state as the host applies it: the lines whose content differs from
// the recording's initial image (ascending gpa), every other line holding its initial content,
// and a 64-bit hash of those lines. Two states of different crash points can be the same
// image; CrashImageIndex finds them, so that each image is checked once.
//
// CrashImageIndex keeps every image it was given. Equal hashes are compared line by line, so a
// hash collision never merges two different images (the hash function is a parameter so that
// tests can force collisions).
//
// Thread-safety: CrashImage is a plain value; a CrashImageIndex is not safe for concurrent use.

#ifndef NVLAB_EXPLORE_CRASH_IMAGE_H_
#define NVLAB_EXPLORE_CRASH_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nvlab/explore/crash_state_space.h"

namespace nvlab::explore {

struct ImageLine {
  uint64_t gpa = 0;
  LineBytes content{};
  bool operator==(const ImageLine&) const = default;
};

struct CrashImage {
  std::vector<ImageLine> lines;  // Lines that differ from the initial image, ascending gpa.
  uint64_t hash = 0;
};

// HashImageLines is the default hash: a 64-bit mix of each line's address and bytes.
uint64_t HashImageLines(const std::vector<ImageLine>& lines);

// MakeCrashImage builds the image a state names (choices must be valid for the space), with
// the hash given (default HashImageLines).
CrashImage MakeCrashImage(
    const CrashStateSpace& space, const StateChoices& choices,
    const std::function<uint64_t(const std::vector<ImageLine>&)>& hash = HashImageLines);

class CrashImageIndex {
 public:
  // Insert returns the image's index (in insertion order of distinct images) and whether it
  // was new.
  std::pair<size_t, bool> Insert(CrashImage image);
  // Find returns the index of an equal image, or -1.
  int64_t Find(const CrashImage& image) const;
  size_t size() const { return images_.size(); }
  const CrashImage& image(size_t index) const { return images_[index]; }

 private:
  std::vector<CrashImage> images_;
  std::unordered_multimap<uint64_t, size_t> by_hash_;
};

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_CRASH_IMAGE_H_
