// File: nvlab/image/cpio_archive.h
//
// CpioWriter writes a cpio archive in the "newc" format (magic 070701), the format the Linux
// kernel unpacks as an initramfs; ParseCpio reads one back (for tests and checks). Entries carry
// uid/gid 0 and mtime 0 so that the same input gives the same bytes. Device nodes can be written
// without privileges, which is why nvlab writes its archives itself.
//
// Format (Documentation/driver-api/early-userspace/buffer-format.rst): per entry a 110-byte ASCII
// header of "070701" and 13 eight-digit hex fields (ino, mode, uid, gid, nlink, mtime,
// filesize, devmajor, devminor, rdevmajor, rdevminor, namesize including the NUL, check = 0),
// the name and its NUL padded to a multiple of 4, then the data padded to a multiple of 4. The
// archive ends with an entry named "TRAILER!!!". Archives may be concatenated.
//
// Thread-safety: a CpioWriter is used by one thread at a time.

#ifndef NVLAB_IMAGE_CPIO_ARCHIVE_H_
#define NVLAB_IMAGE_CPIO_ARCHIVE_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::image {

class CpioWriter {
 public:
  // CpioWriter appends to *out (not owned; must outlive the writer). Inode numbers start at
  // first_inode: give concatenated archives disjoint ranges.
  explicit CpioWriter(std::ostream* out, std::uint32_t first_inode = 1);
  CpioWriter(const CpioWriter&) = delete;
  CpioWriter& operator=(const CpioWriter&) = delete;

  // Paths are relative ("usr/bin/busybox"): no leading '/', no empty, "." or ".." component.
  // A bad path makes the call and Finish() fail with InvalidArgument. Parent folders are not
  // added implicitly: add them first (the kernel does not create them).
  Status AddDirectory(std::string_view path, std::uint32_t permissions = 0755);
  Status AddFile(std::string_view path, std::string_view data, std::uint32_t permissions = 0644);
  Status AddSymlink(std::string_view path, std::string_view target);
  Status AddCharDevice(std::string_view path, std::uint32_t permissions, std::uint32_t major,
                       std::uint32_t minor);

  // Finish writes the trailer and reports the first error of any call (or of the stream).
  Status Finish();

  // bytes_written counts the archive's bytes so far.
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  Status AddEntry(std::string_view path, std::uint32_t mode, std::string_view data,
                  std::uint32_t rdev_major, std::uint32_t rdev_minor);
  void WritePadding(std::uint64_t length);

  std::ostream* out_;
  std::uint32_t next_inode_;
  std::uint64_t bytes_written_ = 0;
  Status first_error_;
  bool finished_ = false;
};

// CpioEntry is one parsed entry (the trailer excluded).
struct CpioEntry {
  std::string name;
  std::uint32_t mode = 0;  // file type and permission bits (S_IFREG | 0644, ...)
  std::uint32_t inode = 0;
  std::uint32_t rdev_major = 0;
  std::uint32_t rdev_minor = 0;
  std::string data;  // file content or symlink target
};

// ParseCpio reads every newc archive concatenated in bytes (zero padding between them allowed)
// and appends their entries to *entries. Malformed input: InvalidArgument naming the offset.
Status ParseCpio(std::string_view bytes, std::vector<CpioEntry>* entries);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_CPIO_ARCHIVE_H_
