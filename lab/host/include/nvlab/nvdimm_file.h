// File: nvlab/nvdimm_file.h
//
// An NVDIMM's backing file: one rule for every place nvlab names one (a guest's run folder,
// `--nvdimm-image`, a libvirt domain folder). A missing file is created zeroed at the NVDIMM's
// size; an existing one is reused as it is, provided it is a regular file of exactly that size
// (a mismatch is an error, never a resize); nvlab never deletes or rewrites one it did not just
// create.
//
// Thread-safety: plain functions; two callers preparing the same path race like any two
// creators of one file (O_EXCL: one creates it, the other reuses it).

#ifndef NVLAB_NVDIMM_FILE_H_
#define NVLAB_NVDIMM_FILE_H_

#include <cstdint>
#include <filesystem>

#include "nvlab/status.h"

namespace nvlab {

// PrepareNvdimmFile makes `path` a file of exactly `size` bytes: created zeroed (space reserved
// with fallocate, so a full disk is an error now rather than a SIGBUS in QEMU later; mode 0644)
// or checked when it already exists. *created says which. Existing content is never changed.
// Errors: InvalidArgument for a file of another size or kind; IoError otherwise.
Status PrepareNvdimmFile(const std::filesystem::path& path, uint64_t size, bool* created);

// CheckNvdimmFile applies PrepareNvdimmFile's checks without creating anything: OK with
// *exists false when there is no file at `path` (what --dry-run reports as "would be created").
Status CheckNvdimmFile(const std::filesystem::path& path, uint64_t size, bool* exists);

}  // namespace nvlab

#endif  // NVLAB_NVDIMM_FILE_H_
