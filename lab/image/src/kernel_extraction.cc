// kernel_extraction.cc -- LocateKernelPayload, ExtractVmlinux: bzImage -> PVH vmlinux.

#include "nvlab/image/kernel_extraction.h"

#include <array>
#include <cstring>

#include "nvlab/file_contents.h"
#include "nvlab/formats/elf_file.h"
#include "nvlab/formats/elf_zero_tails.h"
#include "nvlab/host_command.h"

namespace nvlab::image {
namespace {

// Offsets in the setup header (Documentation/arch/x86/boot.rst).
constexpr std::size_t kSetupSectsOffset = 0x1f1;
constexpr std::size_t kHeaderMagicOffset = 0x202;
constexpr std::size_t kVersionOffset = 0x206;
constexpr std::size_t kPayloadOffsetOffset = 0x248;
constexpr std::size_t kPayloadLengthOffset = 0x24c;
constexpr std::uint16_t kMinVersionWithPayload = 0x0208;

struct Magic {
  PayloadCompression compression;
  std::string_view bytes;
};

constexpr std::array<Magic, 7> kMagics = {{
    {PayloadCompression::kGzip, std::string_view("\x1f\x8b", 2)},
    {PayloadCompression::kBzip2, std::string_view("BZh", 3)},
    {PayloadCompression::kLzma, std::string_view("\x5d\x00\x00", 3)},
    {PayloadCompression::kXz, std::string_view("\xfd"
                                               "7zXZ\x00",
                                               6)},
    {PayloadCompression::kLzo, std::string_view("\x89LZO", 4)},
    {PayloadCompression::kLz4, std::string_view("\x02\x21\x4c\x18", 4)},
    {PayloadCompression::kZstd, std::string_view("\x28\xb5\x2f\xfd", 4)},
}};

template <typename T>
T LoadLittleEndian(std::string_view bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

}  // namespace

const char* CompressionName(PayloadCompression compression) {
  switch (compression) {
    case PayloadCompression::kGzip:
      return "gzip";
    case PayloadCompression::kBzip2:
      return "bzip2";
    case PayloadCompression::kLzma:
      return "lzma";
    case PayloadCompression::kXz:
      return "xz";
    case PayloadCompression::kLzo:
      return "lzo";
    case PayloadCompression::kLz4:
      return "lz4";
    case PayloadCompression::kZstd:
      return "zstd";
  }
  return "unknown";
}

std::vector<std::string> DecompressorCommand(PayloadCompression compression) {
  switch (compression) {
    case PayloadCompression::kGzip:
      return {"gzip", "-dc"};
    case PayloadCompression::kBzip2:
      return {"bzip2", "-dc"};
    case PayloadCompression::kLzma:
      return {"xz", "-dc", "--format=lzma"};
    case PayloadCompression::kXz:
      return {"xz", "-dc"};
    case PayloadCompression::kLzo:
      return {"lzop", "-dc"};
    case PayloadCompression::kLz4:
      return {"lz4", "-dc"};
    case PayloadCompression::kZstd:
      return {"zstd", "-dc"};
  }
  return {};
}

Status LocateKernelPayload(std::string_view bzimage, KernelPayload* payload) {
  if (bzimage.size() < kPayloadLengthOffset + 4 ||
      bzimage.substr(kHeaderMagicOffset, 4) != "HdrS") {
    return Status::InvalidArgument("not a bzImage (no HdrS setup header)");
  }
  auto version = LoadLittleEndian<std::uint16_t>(bzimage, kVersionOffset);
  if (version < kMinVersionWithPayload) {
    return Status::InvalidArgument("bzImage boot protocol too old to locate the payload");
  }
  std::uint64_t setup_sectors = static_cast<unsigned char>(bzimage[kSetupSectsOffset]);
  if (setup_sectors == 0) setup_sectors = 4;
  std::uint64_t protected_mode_start = (setup_sectors + 1) * 512;
  std::uint64_t offset =
      protected_mode_start + LoadLittleEndian<std::uint32_t>(bzimage, kPayloadOffsetOffset);
  std::uint64_t length = LoadLittleEndian<std::uint32_t>(bzimage, kPayloadLengthOffset);
  if (length < 8 || offset > bzimage.size() || length > bzimage.size() - offset) {
    return Status::InvalidArgument("bzImage payload lies outside the file");
  }
  std::string_view stream = bzimage.substr(offset, length);
  for (const Magic& magic : kMagics) {
    if (stream.substr(0, magic.bytes.size()) != magic.bytes) continue;
    payload->compression = magic.compression;
    payload->offset = offset;
    // gzip ends with its own ISIZE field: keep it; the others carry an appended size.
    payload->length = magic.compression == PayloadCompression::kGzip ? length : length - 4;
    payload->uncompressed_size = LoadLittleEndian<std::uint32_t>(stream, length - 4);
    return Status::Ok();
  }
  return Status::InvalidArgument("bzImage payload has an unknown compression magic");
}

Status CheckBootableVmlinux(std::string_view vmlinux, std::uint64_t* entry) {
  formats::ElfFacts facts;
  Status status = formats::ParseElf(vmlinux, &facts);
  if (!status.ok()) return status.WithContext("uncompressed kernel");
  if (!facts.pvh_entry) {
    return Status::InvalidArgument(
        "uncompressed kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): QEMU cannot boot "
        "it with -kernel (a kernel built with CONFIG_PVH=y is needed)");
  }
  *entry = *facts.pvh_entry;
  return Status::Ok();
}

Status ExtractVmlinux(const std::filesystem::path& bzimage_path,
                      const std::filesystem::path& vmlinux_path,
                      const std::filesystem::path& work_dir) {
  std::string bzimage;
  NVLAB_RETURN_IF_ERROR(ReadFileContents(bzimage_path, &bzimage));
  KernelPayload payload;
  Status status = LocateKernelPayload(bzimage, &payload);
  if (!status.ok()) return status.WithContext(bzimage_path.string());
  std::filesystem::path compressed = work_dir / "kernel-payload";
  NVLAB_RETURN_IF_ERROR(WriteFileContents(
      compressed, std::string_view(bzimage).substr(payload.offset, payload.length)));
  bzimage.clear();
  bzimage.shrink_to_fit();
  HostCommandOptions options;
  options.stdin_path = compressed;
  options.stdout_path = vmlinux_path;
  status = RunHostCommand(DecompressorCommand(payload.compression), options, nullptr);
  std::error_code ignored;
  std::filesystem::remove(compressed, ignored);
  if (!status.ok()) {
    return status.WithContext(std::string("decompressing the ") +
                              CompressionName(payload.compression) + " kernel payload");
  }
  std::string vmlinux;
  NVLAB_RETURN_IF_ERROR(ReadFileContents(vmlinux_path, &vmlinux));
  if (vmlinux.size() != payload.uncompressed_size) {
    return Status::InvalidArgument("uncompressed kernel is " + std::to_string(vmlinux.size()) +
                                   " bytes, the bzImage announces " +
                                   std::to_string(payload.uncompressed_size));
  }
  std::uint64_t entry = 0;
  NVLAB_RETURN_IF_ERROR(CheckBootableVmlinux(vmlinux, &entry));
  // The zeros QEMU would copy at every cold boot (elf_zero_tails.h): it fills them instead.
  std::uint64_t trimmed = 0;
  status = formats::TrimElfZeroTails(&vmlinux, &trimmed);
  if (!status.ok()) return status.WithContext("uncompressed kernel");
  if (trimmed == 0) return Status::Ok();
  return WriteFileContents(vmlinux_path, vmlinux);
}

}  // namespace nvlab::image
