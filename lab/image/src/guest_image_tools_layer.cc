// guest_image_tools_layer.cc -- the tools layer: /init and the guest programs, keyed by content.

#include <algorithm>

#include "nvlab/image/guest_image_layers.h"
#include "nvlab/image/guest_image_tree.h"
#include "nvlab/image/sha256_digest.h"

namespace nvlab::image {
namespace {

namespace fs = std::filesystem;

// Bump when the tools layer's layout changes, so that old images are not reused.
constexpr char kToolsLayerFormat[] = "nvlab-tools-layer-2";
// Inode numbers of the tools cpio start here, apart from the base layer's.
constexpr std::uint32_t kToolsFirstInode = 0x40000000;

}  // namespace

Status ScanToolsLayer(const fs::path& guest_data_dir, const fs::path& tools_dir,
                      std::vector<ToolFile>* files, std::string* key) {
  files->clear();
  for (const auto& [name, guest_path] : kGuestBootScripts) {
    ToolFile script;
    script.guest_path = guest_path;
    script.host_path = guest_data_dir / name;
    Status status = Sha256OfFile(script.host_path, &script.sha256, &script.size);
    if (!status.ok()) return Status::NotFound("guest boot script: " + status.message());
    files->push_back(script);
  }
  std::error_code error;
  if (!tools_dir.empty() && fs::is_directory(tools_dir, error)) {
    std::vector<ToolFile> tools;
    for (auto it = fs::recursive_directory_iterator(tools_dir, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (!it->is_regular_file(error)) continue;
      ToolFile tool;
      tool.guest_path = "usr/bin/" + fs::relative(it->path(), tools_dir).generic_string();
      tool.host_path = it->path();
      NVLAB_RETURN_IF_ERROR(Sha256OfFile(tool.host_path, &tool.sha256, &tool.size));
      tools.push_back(std::move(tool));
    }
    if (error) return Status::IoError("cannot list " + tools_dir.string() + ": " + error.message());
    std::sort(tools.begin(), tools.end(),
              [](const ToolFile& a, const ToolFile& b) { return a.guest_path < b.guest_path; });
    files->insert(files->end(), tools.begin(), tools.end());
  }
  Sha256Digest digest;
  digest.Update(kToolsLayerFormat);
  for (const ToolFile& file : *files) {
    digest.Update("\n" + file.guest_path + " " + file.sha256);
  }
  *key = digest.HexDigest().substr(0, 16);
  if (key->empty()) return Status::FailedPrecondition("libcrypto cannot compute SHA-256");
  return Status::Ok();
}

Status WriteToolsCpio(const std::vector<ToolFile>& files, const fs::path& cpio_path) {
  GuestImageTree tree;
  for (const ToolFile& file : files) tree.AddHostFile(file.guest_path, file.host_path, 0755);
  return tree.WriteCpio(cpio_path, kToolsFirstInode);
}

}  // namespace nvlab::image
