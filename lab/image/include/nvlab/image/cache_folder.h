// File: nvlab/image/cache_folder.h
//
// A folder of NVLAB_HOME's cache (an image under images/, a warm-start template under
// templates/): built elsewhere and published whole, then read by any number of nvlab processes
// and removed only when none of them uses it.
//
//   PublishCacheFolder   fsyncs every file and folder of the finished temporary folder, renames
//                        it into place and fsyncs the parent, so that after a crash the cache
//                        holds the whole folder or none of it.
//   HoldCacheFolder      a shared flock(2) on the folder itself, held while it is in use (the
//                        lock dies with the process).
//   TryRemoveCacheFolder an exclusive flock taken without waiting: a folder someone holds is
//                        skipped, never removed.
// The lock is on the folder's inode, so a folder removed and published again under the same name
// is a new lock: HoldCacheFolder checks that the folder it locked is still the one at the path.
//
// Thread-safety: plain functions; processes coordinate through the locks.

#ifndef NVLAB_IMAGE_CACHE_FOLDER_H_
#define NVLAB_IMAGE_CACHE_FOLDER_H_

#include <filesystem>
#include <memory>

#include "nvlab/file_lock.h"
#include "nvlab/status.h"

namespace nvlab::image {

// SyncFolderTree fsyncs every regular file and folder below and including `dir`.
Status SyncFolderTree(const std::filesystem::path& dir);

// SyncPath fsyncs one file or folder.
Status SyncPath(const std::filesystem::path& path);

// PublishCacheFolder syncs `temp` (SyncFolderTree), renames it to `final_dir` and syncs
// final_dir's parent. A final_dir that exists already (another process published the same
// content first) is kept and temp removed: *published then says false.
Status PublishCacheFolder(const std::filesystem::path& temp, const std::filesystem::path& final_dir,
                          bool* published = nullptr);

// HoldCacheFolder takes a shared lock on `dir` (waiting while a remover holds it) and returns it
// in *hold. NotFound when `dir` is missing or was removed while this process waited.
Status HoldCacheFolder(const std::filesystem::path& dir, std::shared_ptr<FileLock>* hold);

// TryRemoveCacheFolder removes `dir` unless a process holds it: *removed false then, and nothing
// is touched. OK with *removed true when dir did not exist.
Status TryRemoveCacheFolder(const std::filesystem::path& dir, bool* removed);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_CACHE_FOLDER_H_
