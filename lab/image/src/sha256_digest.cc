// sha256_digest.cc -- Sha256Digest over libcrypto's EVP interface.

#include "nvlab/image/sha256_digest.h"

#include <openssl/evp.h>

#include <cerrno>
#include <fstream>
#include <vector>

#include "nvlab/hex.h"

namespace nvlab::image {

// Context owns the EVP digest context; ok turns false at libcrypto's first failure and stays so.
struct Sha256Digest::Context {
  Context() : md(EVP_MD_CTX_new()) {
    ok = md != nullptr && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1;
  }
  ~Context() { EVP_MD_CTX_free(md); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  EVP_MD_CTX* md;
  bool ok = false;
};

Sha256Digest::Sha256Digest() : context_(std::make_unique<Context>()) {}

Sha256Digest::~Sha256Digest() = default;

void Sha256Digest::Update(std::string_view data) {
  if (context_->ok) context_->ok = EVP_DigestUpdate(context_->md, data.data(), data.size()) == 1;
}

std::string Sha256Digest::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!context_->ok || EVP_DigestFinal_ex(context_->md, digest, &length) != 1) {
    context_->ok = false;
    return {};
  }
  context_->ok = false;  // finished: further updates are ignored
  return HexDigits(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string Sha256Hex(std::string_view data) {
  Sha256Digest digest;
  digest.Update(data);
  return digest.HexDigest();
}

Status Sha256OfFile(const std::filesystem::path& path, std::string* hex, std::uint64_t* size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoErrorFromErrno("cannot open " + path.string(), errno);
  Sha256Digest digest;
  std::vector<char> chunk(1 << 20);
  std::uint64_t total = 0;
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    std::streamsize got = in.gcount();
    if (got <= 0) break;
    digest.Update(std::string_view(chunk.data(), static_cast<std::size_t>(got)));
    total += static_cast<std::uint64_t>(got);
  }
  if (in.bad()) return Status::IoError("cannot read " + path.string());
  std::string digits = digest.HexDigest();
  if (digits.empty()) {
    return Status::FailedPrecondition("libcrypto cannot compute SHA-256 of " + path.string());
  }
  *hex = std::move(digits);
  if (size != nullptr) *size = total;
  return Status::Ok();
}

}  // namespace nvlab::image
