// File: nvlab/file_lock.h
//
// FileLock holds flock(2) on a lock file for its lifetime. The kernel releases it when the file
// is closed, also when the process dies, so a killed nvlab never blocks the next one. Used where
// several nvlab processes share a cache (NVLAB_HOME's images and warm-start templates).
//
// Life cycle: FileLock -> Acquire (blocks while another process holds it) -> destruction.
// Thread-safety: one thread at a time per FileLock.

#ifndef NVLAB_FILE_LOCK_H_
#define NVLAB_FILE_LOCK_H_

#include <filesystem>
#include <functional>

#include "nvlab/status.h"

namespace nvlab {

class FileLock {
 public:
  enum class Mode { kShared, kExclusive };

  FileLock() = default;
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Acquire opens (creating, 0644) `path` and locks it. When another process holds a conflicting
  // lock, on_wait (if set) is called once before waiting: a progress line for the user.
  Status Acquire(const std::filesystem::path& path, Mode mode,
                 const std::function<void()>& on_wait = nullptr);

 private:
  int fd_ = -1;
};

}  // namespace nvlab

#endif  // NVLAB_FILE_LOCK_H_
