// File: nvlab/image/sha256_digest.h
//
// Sha256Digest computes SHA-256 (FIPS 180-4), for the image manifest's checksums and the cache
// keys of the image layers. Small and dependency-free on purpose: the host library links no
// crypto library.
//
// Thread-safety: one object per thread.

#ifndef NVLAB_IMAGE_SHA256_DIGEST_H_
#define NVLAB_IMAGE_SHA256_DIGEST_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "nvlab/status.h"

namespace nvlab::image {

class Sha256Digest {
 public:
  Sha256Digest();
  void Update(std::string_view data);
  // HexDigest finishes the hash and returns 64 lowercase hex digits; the object must not be
  // updated afterwards.
  std::string HexDigest();

 private:
  void Compress(const unsigned char* block);

  std::array<std::uint32_t, 8> state_;
  std::array<unsigned char, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

// Sha256Hex hashes a string.
std::string Sha256Hex(std::string_view data);

// Sha256OfFile hashes a file's content into *hex (and its size into *size when non-null).
Status Sha256OfFile(const std::filesystem::path& path, std::string* hex,
                    std::uint64_t* size = nullptr);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_SHA256_DIGEST_H_
