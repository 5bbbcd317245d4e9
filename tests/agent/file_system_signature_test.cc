// file_system_signature_test.cc -- FileSystemSignature.

#include "nvlab/agent/file_system_signature.h"

#include <gtest/gtest.h>

#include <string>

namespace nvlab::agent {
namespace {

TEST(FileSystemSignatureTest, FindsXfsAtTheStart) {
  std::string bytes(kFileSystemSignatureBytes, '\0');
  bytes.replace(0, 4, "XFSB");
  EXPECT_EQ(FileSystemSignature(bytes), "xfs");
  EXPECT_EQ(FileSystemSignature("XFSB"), "xfs");
}

TEST(FileSystemSignatureTest, FindsTheExtMagicAt1080) {
  std::string bytes(kFileSystemSignatureBytes, '\0');
  bytes[1080] = '\x53';
  bytes[1081] = '\xef';
  EXPECT_EQ(FileSystemSignature(bytes), "ext4");
  std::swap(bytes[1080], bytes[1081]);  // big-endian is not the magic
  EXPECT_EQ(FileSystemSignature(bytes), "");
}

TEST(FileSystemSignatureTest, NothingOnZerosOrTooFewBytes) {
  EXPECT_EQ(FileSystemSignature(std::string(kFileSystemSignatureBytes, '\0')), "");
  EXPECT_EQ(FileSystemSignature(""), "");
  EXPECT_EQ(FileSystemSignature("XFS"), "");
  std::string short_ext(1081, '\0');
  short_ext[1080] = '\x53';
  EXPECT_EQ(FileSystemSignature(short_ext), "");
}

}  // namespace
}  // namespace nvlab::agent
