// File: nvlab/guest_ram_folder.h
//
// Where one guest's RAM files live. QEMU maps the guest's RAM from files (memory-backend-file,
// share=on: the persistence model reads the guest's page tables from them, and warm starts copy
// a template into them). On a disk, loading the kernel and initramfs into such a file dirties
// page cache that is then written back: a cold boot's QEMU spent 1.65-2.09 s of system CPU with
// the RAM file on disk against 0.81-0.99 s on tmpfs (BENCHMARKS.md, "Cold boot"). So the RAM
// files go to a tmpfs when it has room for them, else to the run folder:
//
//   <base>/nvlab-<uid>/ram-XXXXXX/     base: $NVLAB_RAM_DIR, else /dev/shm
//     owner.pid                        the PID of the nvlab that made it, "<pid>\n"
//     ram0, ram1, ...                  one per NUMA node
//
// "Room" is the RAM size plus a quarter of it (at least 64 MiB) free on the tmpfs. Every file is
// reserved whole (posix_fallocate), on tmpfs as on disk: a full tmpfs or disk is a clear error at
// start, never a SIGBUS in QEMU halfway through a boot. A tmpfs whose reservation fails (another
// guest took the room meanwhile) is given up for the run folder; a run folder whose reservation
// fails is an error. On tmpfs the reservation is memory: a guest holds its whole RAM size from
// the start, and making it means zeroing every page (0.07 s for 512 MiB here). So a caller that
// has other work to do first may have a tmpfs folder reserved in the background
// (Reservation::kInBackground): its files are made at full size at once and their pages
// reserved on a thread of their own while QEMU starts (pages QEMU touches first are allocated
// then, as they would be anyway); AwaitReservation says how it ended, and a failure there is an
// error (no run-folder fallback by then).
//
// The tmpfs folder is removed when its GuestRamFolder is destroyed. A killed nvlab cannot remove
// it: the next nvlab of the same user that places a guest's RAM removes every folder under
// <base>/nvlab-<uid>/ whose owner.pid names no running process (SweepStaleGuestRamFolders), and
// so can any other sweep of stale run files. nvlab-<uid> is used only when it is a real folder
// (not a link) owned by the user and closed to others; otherwise the RAM stays in the run folder.
//
// Thread-safety: a GuestRamFolder is used by one thread at a time (its background reservation
// is its own business); distinct ones (and distinct processes) are independent.

#ifndef NVLAB_GUEST_RAM_FOLDER_H_
#define NVLAB_GUEST_RAM_FOLDER_H_

#include <cstdint>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "nvlab/status.h"

namespace nvlab {

// DefaultGuestRamBase is $NVLAB_RAM_DIR when set (empty: keep RAM in the run folder), else
// /dev/shm.
std::filesystem::path DefaultGuestRamBase();

// ReserveMemoryImage makes `path` (0600, replacing a file there) `size` zero bytes with all its
// space allocated. On failure the file is removed and the IoError names the size, the path and
// the reason ("No space left on device").
Status ReserveMemoryImage(const std::filesystem::path& path, uint64_t size);

// SweepStaleGuestRamFolders removes the folders under <base>/nvlab-<uid>/ whose owner.pid names
// a process that is gone (or that have none and are over a minute old). Returns how many.
int SweepStaleGuestRamFolders(const std::filesystem::path& base);

class GuestRamFolder {
 public:
  GuestRamFolder() = default;
  ~GuestRamFolder();
  GuestRamFolder(GuestRamFolder&& other) noexcept;
  GuestRamFolder& operator=(GuestRamFolder&& other) noexcept;
  GuestRamFolder(const GuestRamFolder&) = delete;
  GuestRamFolder& operator=(const GuestRamFolder&) = delete;

  // When a tmpfs folder's files are reserved: before Place returns, or on a thread of their own
  // (see above). A run folder's files are always reserved before Place returns (on a disk that
  // allocates extents, zeroes nothing: it is quick).
  enum class Reservation { kNow, kInBackground };

  // Place creates and reserves one RAM file per entry of `sizes` (ram0, ram1, ...): in a new
  // folder under `base` (see above) when `base` is not empty and has room, else in `run_dir`.
  // Errors: the run folder's reservation failed (IoError), or `run_dir` is unusable.
  static Status Place(const std::filesystem::path& base, const std::filesystem::path& run_dir,
                      const std::vector<uint64_t>& sizes, GuestRamFolder* out,
                      Reservation reservation = Reservation::kNow);

  // AwaitReservation waits for a reservation made in the background and returns how it ended
  // (the IoError of ReserveMemoryImage); Ok at once when there is none or it was awaited already.
  Status AwaitReservation();

  // Planned names the files Place would make, creating nothing (for --dry-run): a tmpfs folder
  // is named <base>/nvlab-<uid>/ram-XXXXXX, its random part left as written.
  static std::vector<std::filesystem::path> Planned(const std::filesystem::path& base,
                                                    const std::filesystem::path& run_dir,
                                                    const std::vector<uint64_t>& sizes);

  // Files names the RAM files (empty before Place).
  const std::vector<std::filesystem::path>& files() const { return files_; }
  // on_tmpfs: whether they are in a tmpfs folder of their own (not in the run folder).
  bool on_tmpfs() const { return !owned_.empty(); }
  // Description says where the files are and, when the tmpfs was not used, why: for nvlab -v.
  const std::string& description() const { return description_; }

 private:
  void Remove();

  std::filesystem::path owned_;  // the tmpfs folder this object removes ("" when none)
  std::vector<std::filesystem::path> files_;
  std::string description_;
  // The background reservation (Reservation::kInBackground) until AwaitReservation took its
  // result; the thread touches only files_, which do not change while it runs.
  std::future<Status> reservation_;
};

}  // namespace nvlab

#endif  // NVLAB_GUEST_RAM_FOLDER_H_
