// File: nvlab/image/sha256_digest.h
//
// SHA-256 for the image manifest's checksums and the cache keys of the image layers, computed by
// OpenSSL's libcrypto (EVP); the digest is written as 64 lowercase hex digits (nvlab/hex.h).
//
// libcrypto fails only without memory or when its configuration offers no SHA-256 provider:
// HexDigest and Sha256Hex then give an empty string, Sha256OfFile a FailedPrecondition.
//
// Thread-safety: one Sha256Digest per thread; the functions may be called concurrently.

#ifndef NVLAB_IMAGE_SHA256_DIGEST_H_
#define NVLAB_IMAGE_SHA256_DIGEST_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "nvlab/status.h"

namespace nvlab::image {

// Sha256Digest hashes data given in pieces.
class Sha256Digest {
 public:
  Sha256Digest();
  ~Sha256Digest();
  Sha256Digest(const Sha256Digest&) = delete;
  Sha256Digest& operator=(const Sha256Digest&) = delete;

  void Update(std::string_view data);
  // HexDigest finishes the hash and returns 64 lowercase hex digits ("" if libcrypto failed);
  // the object must not be updated afterwards.
  std::string HexDigest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Sha256Hex hashes a string ("" if libcrypto failed).
std::string Sha256Hex(std::string_view data);

// Sha256OfFile hashes a file's content into *hex (and its size into *size when non-null).
// Unreadable file: IoError; libcrypto failed: FailedPrecondition.
Status Sha256OfFile(const std::filesystem::path& path, std::string* hex,
                    std::uint64_t* size = nullptr);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_SHA256_DIGEST_H_
