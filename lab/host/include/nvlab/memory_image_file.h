// File: nvlab/memory_image_file.h
//
// A memory image file is a guest's RAM as QEMU maps it (memory-backend-file, share=on): as large
// as the guest's memory, mostly holes or zeros, since a guest that just booted has touched a
// fraction of it. A warm start copies the saved template's RAM into each run's own file
// (nvlab/guest_template.h), so the copy must be fast and must not turn holes into data.
//
// Both functions read the image in 4 KiB blocks and skip holes (SEEK_DATA); the checksum covers
// every block that is not all zeros, with its offset, so a hole and a block of zeros checksum
// alike and any change to the content changes it. It is a fast 64-bit checksum that catches a
// truncated, damaged or edited cache file, not a cryptographic digest (the cache is the user's
// own, in NVLAB_HOME).
//
// Thread-safety: free functions, no state.

#ifndef NVLAB_MEMORY_IMAGE_FILE_H_
#define NVLAB_MEMORY_IMAGE_FILE_H_

#include <cstdint>
#include <filesystem>

#include "nvlab/status.h"

namespace nvlab {

// CopyMemoryImage creates `to` (0600, replacing a file there) with the size of `from`, writes
// only the blocks of `from` that hold a non-zero byte, and sets *checksum to the checksum of
// `from`'s content. The caller compares it with the one recorded when the image was saved.
Status CopyMemoryImage(const std::filesystem::path& from, const std::filesystem::path& to,
                       uint64_t* checksum);

// CopyMemoryImageIntoReserved does the same into an existing file `to` that has `from`'s size
// and holds only zeros, as ReserveMemoryImage (nvlab/guest_ram_folder.h) leaves it: the file and
// its reserved space are kept, only the non-zero blocks written. A `to` of another size is a
// FailedPrecondition.
Status CopyMemoryImageIntoReserved(const std::filesystem::path& from,
                                   const std::filesystem::path& to, uint64_t* checksum);

// MemoryImageChecksum computes the same checksum of a file without copying it.
Status MemoryImageChecksum(const std::filesystem::path& path, uint64_t* checksum);

}  // namespace nvlab

#endif  // NVLAB_MEMORY_IMAGE_FILE_H_
