// File: nvlab/file_lock.h
//
// FileLock holds flock(2) on a file or folder for its lifetime. The kernel releases it when the
// file is closed, also when the process dies, so a killed nvlab never blocks the next one. Used
// where several nvlab processes share a cache (NVLAB_HOME's images and warm-start templates:
// builders lock exclusively, users hold a shared lock on what they use so that no pruning
// removes it) and on the NVDIMM files a user names (one nvlab at a time on each).
//
// flock locks belong to an open file description: two FileLocks on one file conflict even in
// one process, which is how the same file named twice is caught.
//
// Life cycle: FileLock -> Acquire, AcquireExisting or TryAcquire -> destruction (or Release).
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

  // AcquireExisting is Acquire on a file or folder that must exist (NotFound otherwise); it
  // creates nothing.
  Status AcquireExisting(const std::filesystem::path& path, Mode mode,
                         const std::function<void()>& on_wait = nullptr);

  // TryAcquire locks without waiting: *acquired is false (and nothing is held) when a
  // conflicting lock is held elsewhere. With create false the file or folder must exist
  // (NotFound otherwise) and nothing is created.
  Status TryAcquire(const std::filesystem::path& path, Mode mode, bool create, bool* acquired);

  // Release unlocks and closes now.
  void Release();

  bool held() const { return fd_ >= 0; }
  // fd is the locked file's descriptor (-1 when none is held), for fstat.
  int fd() const { return fd_; }

 private:
  Status Open(const std::filesystem::path& path, bool create);
  Status Wait(const std::filesystem::path& path, Mode mode, const std::function<void()>& on_wait);

  int fd_ = -1;
};

}  // namespace nvlab

#endif  // NVLAB_FILE_LOCK_H_
