// dax_recognition_test.cc -- RtlGetNonVolatileToken refuses memory that is neither DAX nor
// registered, and follows a registration being withdrawn or the memory being replaced.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>

#include "dax_mapping.h"
#include "last_error_contains.h"
#include "nvrtl/nvrtl.h"

namespace {

constexpr const char* kNotNvMemory = "NvBuffer is not NV memory";

TEST(DaxRecognitionTest, AnonymousMemoryIsNotNvMemory) {
  void* p = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  PVOID token = nullptr;
  EXPECT_EQ(RtlGetNonVolatileToken(p, 4096, &token), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlGetNonVolatileToken(p, 4096, &token), STATUS_INVALID_PARAMETER);  // cached path
  EXPECT_TRUE(LastErrorContains(kNotNvMemory));
  munmap(p, 1 << 16);
}

TEST(DaxRecognitionTest, UnregisteredFileMappingIsNotNvMemory) {
  char path[] = "/tmp/nvrtl-plain-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 1 << 16), 0);
  void* p = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  unlink(path);
  ASSERT_NE(p, MAP_FAILED);
  PVOID token = nullptr;
  EXPECT_EQ(RtlGetNonVolatileToken(p, 4096, &token), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains(kNotNvMemory));
  munmap(p, 1 << 16);
}

TEST(DaxRecognitionTest, UnmappedAddressIsNotNvMemory) {
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  munmap(p, 4096);
  PVOID token = nullptr;
  EXPECT_EQ(RtlGetNonVolatileToken(p, 64, &token), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("NvBuffer is not mapped"));
}

TEST(DaxRecognitionTest, UnregisteredRangeNoLongerGivesTokens) {
  void* p = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(NvRegisterNonVolatileRange(p, 1 << 16), STATUS_SUCCESS);
  PVOID token = nullptr;
  ASSERT_EQ(RtlGetNonVolatileToken(p, 4096, &token), STATUS_SUCCESS);
  ASSERT_EQ(NvUnregisterNonVolatileRange(p), STATUS_SUCCESS);
  PVOID again = nullptr;
  EXPECT_EQ(RtlGetNonVolatileToken(p, 4096, &again), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains(kNotNvMemory));
  EXPECT_EQ(RtlFreeNonVolatileToken(token), STATUS_SUCCESS);  // old tokens stay freeable
  munmap(p, 1 << 16);
}

TEST(DaxMapHelpersTest, NonDaxPathsAreRefusedWithAReason) {
  PVOID base = nullptr;
  SIZE_T size = 0;
  EXPECT_EQ(NvMapDaxDevice("/dev/null", &base, &size), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("/dev/null is not a devdax character device"));
  EXPECT_EQ(NvMapDaxDevice("/nonexistent/dax0.0", &base, &size), STATUS_ACCESS_DENIED);
  EXPECT_TRUE(LastErrorContains("/nonexistent/dax0.0: No such file or directory"));
  char path[] = "/tmp/nvrtl-nodax-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  // /tmp is not a DAX mount: MAP_SYNC is refused and the message says why.
  EXPECT_EQ(NvMapDaxFile(path, 1 << 16, &base), STATUS_NOT_SUPPORTED);
  EXPECT_TRUE(LastErrorContains("the kernel refused MAP_SYNC"));
  unlink(path);
}

}  // namespace

namespace {

// MapTempFile -- a shared mapping of a fresh (unlinked) temporary file, at `at` if not NULL.
void* MapTempFile(size_t bytes, void* at) {
  char path[] = "/tmp/nvrtl-remap-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return MAP_FAILED;
  unlink(path);
  void* p = MAP_FAILED;
  if (ftruncate(fd, static_cast<off_t>(bytes)) == 0) {
    p = mmap(at, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | (at != nullptr ? MAP_FIXED : 0), fd,
             0);
  }
  close(fd);
  return p;
}

TEST(DaxCacheTest, CachedMappingGivesTokensUntilReplacedByAnonymousMemory) {
  constexpr size_t kBytes = 1 << 16;
  void* p = MapTempFile(kBytes, nullptr);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_TRUE(nvrtl::RememberAsDaxForTesting(reinterpret_cast<uintptr_t>(p)));
  PVOID token = nullptr;
  ASSERT_EQ(RtlGetNonVolatileToken(p, kBytes, &token), STATUS_SUCCESS);
  EXPECT_EQ(RtlFreeNonVolatileToken(token), STATUS_SUCCESS);
  EXPECT_EQ(RtlGetNonVolatileToken(p, kBytes + 1, &token), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains("range extends past the end of its DAX mapping"));
  // Same address, now anonymous memory: the cache must notice.
  ASSERT_EQ(mmap(p, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
            p);
  EXPECT_EQ(RtlGetNonVolatileToken(p, 4096, &token), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains(kNotNvMemory));
  munmap(p, kBytes);
}

TEST(DaxCacheTest, AnotherFileMappedAtTheSameAddressIsNotTrusted) {
  constexpr size_t kBytes = 1 << 16;
  void* p = MapTempFile(kBytes, nullptr);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_TRUE(nvrtl::RememberAsDaxForTesting(reinterpret_cast<uintptr_t>(p)));
  ASSERT_EQ(MapTempFile(kBytes, p), p);  // a different inode at the same place
  PVOID token = nullptr;
  EXPECT_EQ(RtlGetNonVolatileToken(p, 4096, &token), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(LastErrorContains(kNotNvMemory));
  munmap(p, kBytes);
}

}  // namespace
