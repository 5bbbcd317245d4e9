// header_test.cc -- <nvrtl/nvrtl.h> as C++ and (via header_c_check.c) as strict C11.
#include <gtest/gtest.h>

#include <type_traits>

#include "nvrtl/nvrtl.h"

extern "C" int NvrtlHeaderCheckFromC(void);

TEST(HeaderTest, CompilesAsStrictC11WithTheWindowsSignatures) {
  EXPECT_EQ(NvrtlHeaderCheckFromC(), 1);
}

TEST(HeaderTest, TypesHaveTheWindowsWidths) {
  static_assert(std::is_same_v<NTSTATUS, int32_t>);
  static_assert(std::is_same_v<ULONG, uint32_t>);
  static_assert(std::is_same_v<UCHAR, uint8_t>);
  static_assert(std::is_same_v<SIZE_T, size_t>);
  EXPECT_EQ(sizeof(NV_MEMORY_RANGE), 16u);
  EXPECT_EQ(offsetof(NV_MEMORY_RANGE, Length), 8u);
}

TEST(HeaderTest, ConstantsHaveTheSdkValues) {
  EXPECT_EQ(FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN, 0x1);
  EXPECT_EQ(FLUSH_NV_MEMORY_DEFAULT_TOKEN, static_cast<ULONG_PTR>(-1));
  EXPECT_EQ(WRITE_NV_MEMORY_FLAG_FLUSH, 0x1);
  EXPECT_EQ(WRITE_NV_MEMORY_FLAG_NON_TEMPORAL, 0x2);
  EXPECT_EQ(WRITE_NV_MEMORY_FLAG_PERSIST, 0x3);
  EXPECT_EQ(WRITE_NV_MEMORY_FLAG_NO_DRAIN, 0x100);
  EXPECT_EQ(FILL_NV_MEMORY_FLAG_FLUSH, 0x1);
  EXPECT_EQ(FILL_NV_MEMORY_FLAG_NON_TEMPORAL, 0x2);
  EXPECT_EQ(FILL_NV_MEMORY_FLAG_PERSIST, 0x3);
  EXPECT_EQ(FILL_NV_MEMORY_FLAG_NO_DRAIN, 0x100);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_SUCCESS), 0x00000000u);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_INVALID_PARAMETER), 0xC000000Du);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_ACCESS_DENIED), 0xC0000022u);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_INFO_LENGTH_MISMATCH), 0xC0000004u);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_INSUFFICIENT_RESOURCES), 0xC000009Au);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_NOT_SUPPORTED), 0xC00000BBu);
  EXPECT_TRUE(NT_SUCCESS(STATUS_SUCCESS));
  EXPECT_FALSE(NT_SUCCESS(STATUS_INVALID_PARAMETER));
}
