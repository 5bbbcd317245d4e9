// guest_image_tree.cc -- GuestImageTree: a layer's entries, written as a cpio.

#include "nvlab/image/guest_image_tree.h"

#include <fstream>
#include <set>

#include "nvlab/file_contents.h"
#include "nvlab/image/cpio_archive.h"

namespace nvlab::image {

void GuestImageTree::AddDirectory(const std::string& path, std::uint32_t permissions) {
  Entry entry;
  entry.kind = Kind::kDirectory;
  entry.permissions = permissions;
  entries_[path] = std::move(entry);
}

void GuestImageTree::AddHostFile(const std::string& path, const std::filesystem::path& host_path,
                                 std::uint32_t permissions) {
  Entry entry;
  entry.kind = Kind::kHostFile;
  entry.permissions = permissions;
  entry.host_path = host_path;
  entries_[path] = std::move(entry);
}

void GuestImageTree::AddFileContents(const std::string& path, std::string contents,
                                     std::uint32_t permissions) {
  Entry entry;
  entry.kind = Kind::kContents;
  entry.permissions = permissions;
  entry.contents = std::move(contents);
  entries_[path] = std::move(entry);
}

void GuestImageTree::AddSymlink(const std::string& path, const std::string& target) {
  Entry entry;
  entry.kind = Kind::kSymlink;
  entry.contents = target;
  entries_[path] = std::move(entry);
}

void GuestImageTree::AddCharDevice(const std::string& path, std::uint32_t permissions,
                                   std::uint32_t major, std::uint32_t minor) {
  Entry entry;
  entry.kind = Kind::kCharDevice;
  entry.permissions = permissions;
  entry.major = major;
  entry.minor = minor;
  entries_[path] = std::move(entry);
}

std::vector<std::string> GuestImageTree::Paths() const {
  std::vector<std::string> paths;
  for (const auto& [path, entry] : entries_) paths.push_back(path);
  return paths;
}

Status GuestImageTree::WriteCpio(const std::filesystem::path& cpio_path,
                                 std::uint32_t first_inode) const {
  std::ofstream out(cpio_path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IoError("cannot create " + cpio_path.string());
  CpioWriter writer(&out, first_inode);
  std::set<std::string> written;
  for (const auto& [path, entry] : entries_) {
    // Parents first: a parent path is a prefix of its child, so it sorts before it; only
    // parents never added explicitly need an entry here.
    for (std::size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      std::string parent = path.substr(0, slash);
      if (entries_.count(parent) == 0 && written.insert(parent).second) {
        NVLAB_RETURN_IF_ERROR(writer.AddDirectory(parent, 0755));
      }
    }
    switch (entry.kind) {
      case Kind::kDirectory:
        NVLAB_RETURN_IF_ERROR(writer.AddDirectory(path, entry.permissions));
        break;
      case Kind::kHostFile: {
        std::string contents;
        NVLAB_RETURN_IF_ERROR(ReadFileContents(entry.host_path, &contents));
        NVLAB_RETURN_IF_ERROR(writer.AddFile(path, contents, entry.permissions));
        break;
      }
      case Kind::kContents:
        NVLAB_RETURN_IF_ERROR(writer.AddFile(path, entry.contents, entry.permissions));
        break;
      case Kind::kSymlink:
        NVLAB_RETURN_IF_ERROR(writer.AddSymlink(path, entry.contents));
        break;
      case Kind::kCharDevice:
        NVLAB_RETURN_IF_ERROR(
            writer.AddCharDevice(path, entry.permissions, entry.major, entry.minor));
        break;
    }
  }
  NVLAB_RETURN_IF_ERROR(writer.Finish());
  out.close();
  if (!out) return Status::IoError("cannot write " + cpio_path.string());
  return Status::Ok();
}

}  // namespace nvlab::image
