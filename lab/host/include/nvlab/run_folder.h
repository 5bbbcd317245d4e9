// File: nvlab/run_folder.h
//
// A guest's run folder: a private folder (mkdtemp, 0700) named nvlab-XXXXXX under the run-folder
// root ($TMPDIR when set and short, since unix socket paths must fit 108 bytes; else /tmp) that
// holds one guest's sockets, logs and scratch files. nvlab removes it when the guest ends; a
// killed nvlab cannot, so every run folder records its owner in a file `owner`:
//   pid=<PID>
//   start=<the owner's start time, /proc/PID/stat field 22, clock ticks after boot>
// and a later nvlab (MakeRunFolder) removes the run folders of owners that are gone: no process
// with that PID, or one that started at another time (the PID was reused). Only folders named
// like run folders, directly under the root, owned by this user and holding a valid `owner`
// file are ever removed; a folder whose owner lives, or that has no owner file yet (being made),
// is left alone. A folder the user asked to keep (nvlab --keep: MarkRunFolderKept) holds a file
// `kept` and is never swept: it is the user's to remove.
//
// Thread-safety: plain functions. Two nvlab processes sweeping at once may both try to remove
// one stale folder; that is harmless.

#ifndef NVLAB_RUN_FOLDER_H_
#define NVLAB_RUN_FOLDER_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>

#include "nvlab/status.h"

namespace nvlab {

// RunFolderRoot is where run folders are made: $TMPDIR when set, non-empty and shorter than 60
// bytes, else /tmp.
std::filesystem::path RunFolderRoot();

// ProcessStartTime reads field 22 of /proc/PID/stat (the start time in clock ticks after
// boot). NotFound when there is no such process.
Status ProcessStartTime(pid_t pid, uint64_t* start_time);

// OwnerFileText is the `owner` file of a run folder owned by `pid` started at `start_time`.
std::string OwnerFileText(pid_t pid, uint64_t start_time);

// IsRunFolderName: "nvlab-" followed by exactly six characters of mkdtemp's alphabet.
bool IsRunFolderName(const std::string& name);

// SweepStaleRunFolders removes, under `root`, the run folders whose owner is gone (see above).
// Errors are ignored (a folder that cannot be removed is tried again next time); log, when set,
// gets one line per folder removed.
void SweepStaleRunFolders(const std::filesystem::path& root, std::ostream* log = nullptr);

// MarkRunFolderKept writes the file `kept` into `folder`: no sweep removes it from then on.
Status MarkRunFolderKept(const std::filesystem::path& folder);

// MakeRunFolder sweeps RunFolderRoot() and makes a new run folder there owned by this process.
Status MakeRunFolder(std::filesystem::path* out, std::ostream* log = nullptr);

}  // namespace nvlab

#endif  // NVLAB_RUN_FOLDER_H_
