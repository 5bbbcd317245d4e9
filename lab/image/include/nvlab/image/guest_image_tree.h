// File: nvlab/image/guest_image_tree.h
//
// GuestImageTree collects what one layer of the guest's initramfs holds (folders, files taken
// from the host or given as bytes, symlinks, device nodes) under their guest paths, and writes
// it as one newc cpio in path order, adding any missing parent folder (mode 0755) so that the
// kernel can create every entry. A path added twice keeps its last definition.
//
// Thread-safety: one object per thread.

#ifndef NVLAB_IMAGE_GUEST_IMAGE_TREE_H_
#define NVLAB_IMAGE_GUEST_IMAGE_TREE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::image {

class GuestImageTree {
 public:
  // Guest paths are relative to the guest's root: "usr/bin/ndctl".
  void AddDirectory(const std::string& path, std::uint32_t permissions = 0755);
  void AddHostFile(const std::string& path, const std::filesystem::path& host_path,
                   std::uint32_t permissions);
  void AddFileContents(const std::string& path, std::string contents, std::uint32_t permissions);
  void AddSymlink(const std::string& path, const std::string& target);
  void AddCharDevice(const std::string& path, std::uint32_t permissions, std::uint32_t major,
                     std::uint32_t minor);

  bool Contains(const std::string& path) const { return entries_.count(path) != 0; }
  // Paths lists every entry (without implicit parents), sorted.
  std::vector<std::string> Paths() const;

  // WriteCpio writes the tree to cpio_path with inode numbers from first_inode.
  Status WriteCpio(const std::filesystem::path& cpio_path, std::uint32_t first_inode) const;

 private:
  enum class Kind { kDirectory, kHostFile, kContents, kSymlink, kCharDevice };
  struct Entry {
    Kind kind = Kind::kDirectory;
    std::uint32_t permissions = 0755;
    std::filesystem::path host_path;
    std::string contents;  // file bytes or symlink target
    std::uint32_t major = 0;
    std::uint32_t minor = 0;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_GUEST_IMAGE_TREE_H_
