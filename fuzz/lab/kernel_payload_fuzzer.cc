// kernel_payload_fuzzer.cc -- libFuzzer target over the bzImage payload locator and the check
// of the extracted kernel (nvlab/image/kernel_extraction.h): the kernel comes from a package the
// image builder downloads, and its headers are read before anything is decompressed.
// Checks, besides ASan/UBSan: a located payload (with its appended size) lies within the file
// and starts with the magic of the compressor it names; a bootable kernel is one ParseElf takes
// and gives its PVH entry.
//
// Run: build/fuzz/fuzz/lab/kernel_payload_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "nvlab/formats/elf_file.h"
#include "nvlab/image/kernel_extraction.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  (void)std::fprintf(stderr, "%s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nvlab::image::KernelPayload;
  using nvlab::image::PayloadCompression;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  KernelPayload payload;
  if (nvlab::image::LocateKernelPayload(bytes, &payload).ok()) {
    // Every compressor but gzip has its 4-byte size after the stream.
    const uint64_t appended = payload.compression == PayloadCompression::kGzip ? 0 : 4;
    if (payload.offset > size || payload.length + appended > size - payload.offset) {
      Fail("the payload lies outside the file");
    }
    if (payload.length == 0) Fail("an empty payload");
    if (nvlab::image::DecompressorCommand(payload.compression).empty()) Fail("no decompressor");
    const std::string_view stream = bytes.substr(payload.offset, payload.length);
    const std::string_view name = nvlab::image::CompressionName(payload.compression);
    if ((name == "gzip" && !stream.starts_with("\x1f\x8b")) ||
        (name == "zstd" && !stream.starts_with("\x28\xb5\x2f\xfd"))) {
      Fail("the payload does not start with its compressor's magic");
    }
  }
  uint64_t entry = 0;
  if (nvlab::image::CheckBootableVmlinux(bytes, &entry).ok()) {
    nvlab::formats::ElfFacts facts;
    if (!nvlab::formats::ParseElf(bytes, &facts).ok() || !facts.pvh_entry ||
        *facts.pvh_entry != entry) {
      Fail("a bootable kernel ParseElf does not read the same way");
    }
  }
  return 0;
}
