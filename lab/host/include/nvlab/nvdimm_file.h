// File: nvlab/nvdimm_file.h
//
// An NVDIMM's backing file: one rule for every place nvlab names one (a guest's run folder,
// `--nvdimm-image`, a libvirt domain folder). A missing file is created zeroed at the NVDIMM's
// size; an existing one is reused as it is, provided it is a regular file of exactly that size
// (a mismatch is an error, never a resize); nvlab never deletes or rewrites one it did not just
// create.
//
// A file the user names is also locked (NvdimmFileLocks): one nvlab at a time writes it, and one
// run never maps the same file as two NVDIMMs.
//
// Thread-safety: plain functions; two callers preparing the same path race like any two
// creators of one file (O_EXCL: one creates it, the other reuses it). NvdimmFileLocks: one
// thread at a time.

#ifndef NVLAB_NVDIMM_FILE_H_
#define NVLAB_NVDIMM_FILE_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nvlab/file_lock.h"
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

// kNvdimmClaimBytes: where a namespace's claim (pfn, dax or btt) is recorded, an info block at
// 4 KiB; ndctl zeroes the first 8 KiB to drop one.
inline constexpr uint64_t kNvdimmClaimBytes = 8192;

// NvdimmStartIsBlank reads the first kNvdimmClaimBytes of an NVDIMM file into *blank: true when
// they are all zero, so that a label-less namespace on it holds no claim and no old info block
// (docs/design/nvdimm-setup.md, "Blank NVDIMMs"). IoError when the file cannot be read whole.
Status NvdimmStartIsBlank(const std::filesystem::path& path, bool* blank);

// NvdimmFileLocks holds an exclusive, non-blocking flock(2) on each NVDIMM file a user named,
// from before it is checked or created until the run ends (both boots of a power-cycle), so that
// a second nvlab on the same file is refused before it touches anything; the kernel drops the
// locks when nvlab dies. Life cycle: CheckDistinct (before anything is created) -> Lock per
// file -> destruction.
class NvdimmFileLocks {
 public:
  // CheckDistinct refuses (InvalidArgument, naming both spellings) a list that names one file
  // twice: the same device and inode for files that exist, the same canonical path for files
  // that do not. Empty entries are skipped. It creates and locks nothing.
  static Status CheckDistinct(const std::vector<std::filesystem::path>& files);

  // Lock locks `path` (which must exist) exclusively without waiting: FailedPrecondition
  // ("... is in use by another nvlab") when another open file holds a lock on it, InvalidArgument
  // when this object already holds the same file under another name.
  Status Lock(const std::filesystem::path& path);

 private:
  struct Held {
    dev_t dev;
    ino_t ino;
    std::filesystem::path path;
    std::unique_ptr<FileLock> lock;
  };
  std::vector<Held> held_;
};

}  // namespace nvlab

#endif  // NVLAB_NVDIMM_FILE_H_
