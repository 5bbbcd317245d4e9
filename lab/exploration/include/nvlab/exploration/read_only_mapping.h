// File: nvlab/exploration/read_only_mapping.h
//
// ReadOnlyMapping maps the first `size` bytes of a file read-only (MAP_PRIVATE): a recording's
// initial NVDIMM image, which may be as large as the NVDIMM and mostly holes, is read in place
// instead of into memory. Pages the file does not hold read as zeros.
//
// Life cycle: Open, bytes() while it lives, unmapped by the destructor. Movable, not copyable.
// Thread-safety: bytes() may be read from any thread.

#ifndef NVLAB_EXPLORATION_READ_ONLY_MAPPING_H_
#define NVLAB_EXPLORATION_READ_ONLY_MAPPING_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

#include "nvlab/status.h"

namespace nvlab {

class ReadOnlyMapping {
 public:
  ReadOnlyMapping() = default;
  ~ReadOnlyMapping();
  ReadOnlyMapping(ReadOnlyMapping&& other) noexcept;
  ReadOnlyMapping& operator=(ReadOnlyMapping&& other) noexcept;
  ReadOnlyMapping(const ReadOnlyMapping&) = delete;
  ReadOnlyMapping& operator=(const ReadOnlyMapping&) = delete;

  // Open maps [0, size) of path. InvalidArgument when the file is shorter than size or not a
  // regular file; IoError when it cannot be opened or mapped. size 0 maps nothing.
  static Status Open(const std::filesystem::path& path, uint64_t size, ReadOnlyMapping* out);

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nvlab

#endif  // NVLAB_EXPLORATION_READ_ONLY_MAPPING_H_
