// File: nvlab/image/kernel_extraction.h
//
// Extracting the uncompressed kernel from a bzImage. A bzImage is a real-mode setup followed by
// a small decompressor and the compressed kernel (the payload). Its setup header (boot protocol
// >= 2.08, Documentation/arch/x86/boot.rst) gives the payload's offset and length; the payload
// starts with the magic of its compressor and ends with the uncompressed size (4 bytes, little
// endian: the kernel's "*_with_size" build rules; for gzip it is gzip's own ISIZE). QEMU boots
// the uncompressed ELF `vmlinux` directly with -kernel when it carries a PVH entry note, and
// skipping the decompressor halves a boot under TCG (docs/design/platform.md).
//
// Thread-safety: pure functions, except that ExtractVmlinux runs a host decompressor.

#ifndef NVLAB_IMAGE_KERNEL_EXTRACTION_H_
#define NVLAB_IMAGE_KERNEL_EXTRACTION_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::image {

enum class PayloadCompression { kGzip, kBzip2, kLzma, kXz, kLzo, kLz4, kZstd };

// CompressionName returns "gzip", "xz", ...
const char* CompressionName(PayloadCompression compression);

struct KernelPayload {
  PayloadCompression compression = PayloadCompression::kGzip;
  std::uint64_t offset = 0;             // in the bzImage
  std::uint64_t length = 0;             // compressed stream, without the appended size
  std::uint32_t uncompressed_size = 0;  // the size the build appended
};

// LocateKernelPayload finds the payload from the setup header and identifies its compressor by
// magic. Not a bzImage, an old boot protocol, a payload outside the file or an unknown magic:
// InvalidArgument.
Status LocateKernelPayload(std::string_view bzimage, KernelPayload* payload);

// DecompressorCommand returns the host command that decompresses a stream of that kind from
// stdin to stdout (e.g. {"xz", "-dc"}).
std::vector<std::string> DecompressorCommand(PayloadCompression compression);

// ExtractVmlinux writes the uncompressed kernel of bzimage_path to vmlinux_path, using
// work_dir for the compressed stream, and checks it: its size must match the appended size and
// it must be an ELF file with a PVH entry note (else InvalidArgument: QEMU could not boot it).
// Its loadable segments' file sizes then leave out their trailing zeros (TrimElfZeroTails in
// nvlab/formats/elf_zero_tails.h): the same memory at boot, fewer bytes for QEMU to copy.
Status ExtractVmlinux(const std::filesystem::path& bzimage_path,
                      const std::filesystem::path& vmlinux_path,
                      const std::filesystem::path& work_dir);

// CheckBootableVmlinux checks that an uncompressed kernel has a PVH entry (*entry receives it).
Status CheckBootableVmlinux(std::string_view vmlinux, std::uint64_t* entry);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_KERNEL_EXTRACTION_H_
