// Byte-table tests of the plugin's x86 decoder: what each instruction is, where a flush's
// operand points for every addressing form, and that no input makes it misbehave.
#include "x86_decode.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nvlab::plugin {
namespace {

struct KindCase {
  std::string name;
  std::vector<uint8_t> bytes;
  X86Kind kind;
};

class DecodeKindTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(DecodeKindTest, ClassifiesTheInstruction) {
  const KindCase& c = GetParam();
  X86Instruction insn;
  bool recognised = DecodeX86(c.bytes.data(), c.bytes.size(), 0x1000, &insn);
  EXPECT_EQ(insn.kind, c.kind) << X86KindName(insn.kind);
  EXPECT_EQ(recognised, c.kind != X86Kind::kOther);
  EXPECT_EQ(insn.memory.present, IsCacheLineFlush(c.kind));
}

// Encodings as GNU as emits them (AT&T syntax in the comments).
INSTANTIATE_TEST_SUITE_P(
    Table, DecodeKindTest,
    ::testing::Values(
        KindCase{"ClwbRax", {0x66, 0x0f, 0xae, 0x30}, X86Kind::kClwb},
        KindCase{"ClflushoptR8", {0x66, 0x41, 0x0f, 0xae, 0x38}, X86Kind::kClflushopt},
        KindCase{"ClflushRsp", {0x0f, 0xae, 0x7c, 0x24, 0x7f}, X86Kind::kClflush},
        KindCase{"Sfence", {0x0f, 0xae, 0xf8}, X86Kind::kSfence},
        KindCase{"Mfence", {0x0f, 0xae, 0xf0}, X86Kind::kMfence},
        KindCase{"Lfence", {0x0f, 0xae, 0xe8}, X86Kind::kLfence},
        KindCase{"LockAddToStack", {0xf0, 0x83, 0x04, 0x24, 0x00}, X86Kind::kLocked},
        KindCase{"LockCmpxchgWithRex", {0xf0, 0x48, 0x0f, 0xb1, 0x0a}, X86Kind::kLocked},
        KindCase{"XchgWithMemory", {0x48, 0x87, 0x03}, X86Kind::kXchgMemory},
        KindCase{"XchgByteWithMemory", {0x86, 0x07}, X86Kind::kXchgMemory},
        KindCase{"XchgRegisters", {0x48, 0x93}, X86Kind::kOther},
        KindCase{"XchgRegistersModRm", {0x48, 0x87, 0xc3}, X86Kind::kOther},
        KindCase{"Cpuid", {0x0f, 0xa2}, X86Kind::kCpuid},
        KindCase{"Iretq", {0x48, 0xcf}, X86Kind::kSerializing},
        KindCase{"Iret", {0xcf}, X86Kind::kSerializing},
        KindCase{"Wbinvd", {0x0f, 0x09}, X86Kind::kWbinvd},
        KindCase{"Wbnoinvd", {0xf3, 0x0f, 0x09}, X86Kind::kWbinvd},
        KindCase{"Invd", {0x0f, 0x08}, X86Kind::kSerializing},
        KindCase{"Invlpg", {0x0f, 0x01, 0x38}, X86Kind::kSerializing},
        KindCase{"Wrmsr", {0x0f, 0x30}, X86Kind::kSerializing},
        KindCase{"MovToCr3", {0x0f, 0x22, 0xd8}, X86Kind::kSerializing},
        KindCase{"MovToDr7", {0x0f, 0x23, 0xf8}, X86Kind::kSerializing},
        KindCase{"Lgdt", {0x0f, 0x01, 0x10}, X86Kind::kSerializing},
        KindCase{"Lidt", {0x0f, 0x01, 0x18}, X86Kind::kSerializing},
        KindCase{"Lldt", {0x0f, 0x00, 0xd0}, X86Kind::kSerializing},
        KindCase{"Ltr", {0x0f, 0x00, 0xd8}, X86Kind::kSerializing},
        KindCase{"Serialize", {0x0f, 0x01, 0xe8}, X86Kind::kSerializing},
        KindCase{"Rsm", {0x0f, 0xaa}, X86Kind::kSerializing},
        KindCase{"Movnti64", {0x48, 0x0f, 0xc3, 0x07}, X86Kind::kNonTemporalStore},
        KindCase{"Movnti32", {0x0f, 0xc3, 0x47, 0x08}, X86Kind::kNonTemporalStore},
        KindCase{"Movntdq", {0x66, 0x0f, 0xe7, 0x07}, X86Kind::kNonTemporalStore},
        KindCase{"Movntps", {0x0f, 0x2b, 0x0f}, X86Kind::kNonTemporalStore},
        KindCase{"Movntpd", {0x66, 0x0f, 0x2b, 0x17}, X86Kind::kNonTemporalStore},
        KindCase{"VmovntdqYmm", {0xc5, 0xfd, 0xe7, 0x07}, X86Kind::kNonTemporalStore},
        KindCase{"VmovntpsYmmR9", {0xc4, 0xc1, 0x7c, 0x2b, 0x09}, X86Kind::kNonTemporalStore},
        KindCase{"VmovntpdXmm", {0xc5, 0xf9, 0x2b, 0x17}, X86Kind::kNonTemporalStore},
        KindCase{"Movdir64b", {0x66, 0x0f, 0x38, 0xf8, 0x3e}, X86Kind::kNonTemporalStore},
        KindCase{"Movdiri", {0x48, 0x0f, 0x38, 0xf9, 0x07}, X86Kind::kNonTemporalStore},
        KindCase{"Maskmovdqu", {0x66, 0x0f, 0xf7, 0xc1}, X86Kind::kNonTemporalStore},
        KindCase{"PlainStore", {0x48, 0x89, 0x07}, X86Kind::kOther},
        KindCase{"RepStosb", {0xf3, 0xaa}, X86Kind::kOther},
        KindCase{"XsaveoptIsNotAFlush", {0x0f, 0xae, 0x30}, X86Kind::kOther},
        KindCase{"TpauseIsNotAFence", {0x66, 0x0f, 0xae, 0xf0}, X86Kind::kOther},
        KindCase{"Load", {0x48, 0x8b, 0x18}, X86Kind::kOther},
        KindCase{"VmovntdqaIsALoad", {0xc4, 0xe2, 0x7d, 0x2a, 0x07}, X86Kind::kOther},
        KindCase{"Rdtscp", {0x0f, 0x01, 0xf9}, X86Kind::kOther},
        KindCase{"Swapgs", {0x0f, 0x01, 0xf8}, X86Kind::kOther},
        KindCase{"MovntiFromRegisterFormIsInvalid", {0x0f, 0xc3, 0xc0}, X86Kind::kOther}),
    [](const ::testing::TestParamInfo<KindCase>& info) { return info.param.name; });

struct TlbCase {
  std::string name;
  std::vector<uint8_t> bytes;
  X86Kind kind;
  X86TlbFlush flush;
};

class DecodeTlbFlushTest : public ::testing::TestWithParam<TlbCase> {};

TEST_P(DecodeTlbFlushTest, NamesWhatTheInstructionInvalidates) {
  const TlbCase& c = GetParam();
  X86Instruction insn;
  bool recognised = DecodeX86(c.bytes.data(), c.bytes.size(), 0x1000, &insn);
  EXPECT_EQ(insn.tlb_flush, c.flush) << X86TlbFlushName(insn.tlb_flush);
  EXPECT_EQ(insn.kind, c.kind) << X86KindName(insn.kind);
  EXPECT_EQ(recognised, c.kind != X86Kind::kOther || c.flush != X86TlbFlush::kNone);
}

// The kind does not change with the TLB effect: INVPCID and INVLPGB are not serializing.
INSTANTIATE_TEST_SUITE_P(
    Table, DecodeTlbFlushTest,
    ::testing::Values(
        TlbCase{"MovRaxToCr3", {0x0f, 0x22, 0xd8}, X86Kind::kSerializing, X86TlbFlush::kMovToCr3},
        TlbCase{
            "MovR9ToCr3", {0x41, 0x0f, 0x22, 0xd9}, X86Kind::kSerializing, X86TlbFlush::kMovToCr3},
        TlbCase{"MovRaxToCr0", {0x0f, 0x22, 0xc0}, X86Kind::kSerializing, X86TlbFlush::kMovToCr0},
        TlbCase{"MovRdiToCr4", {0x0f, 0x22, 0xe7}, X86Kind::kSerializing, X86TlbFlush::kMovToCr4},
        TlbCase{"MovRaxToCr2", {0x0f, 0x22, 0xd0}, X86Kind::kSerializing, X86TlbFlush::kNone},
        TlbCase{"MovRaxToCr8", {0x44, 0x0f, 0x22, 0xc0}, X86Kind::kSerializing, X86TlbFlush::kNone},
        TlbCase{"MovCr3ToRax", {0x0f, 0x20, 0xd8}, X86Kind::kOther, X86TlbFlush::kNone},
        TlbCase{"MovToDr7", {0x0f, 0x23, 0xf8}, X86Kind::kSerializing, X86TlbFlush::kNone},
        TlbCase{"Wrmsr", {0x0f, 0x30}, X86Kind::kSerializing, X86TlbFlush::kNone},
        TlbCase{"InvlpgRdi", {0x0f, 0x01, 0x3f}, X86Kind::kSerializing, X86TlbFlush::kInvlpg},
        TlbCase{
            "LgdtIsNoInvalidation", {0x0f, 0x01, 0x10}, X86Kind::kSerializing, X86TlbFlush::kNone},
        TlbCase{"InvpcidRaxRcx",
                {0x66, 0x0f, 0x38, 0x82, 0x08},
                X86Kind::kOther,
                X86TlbFlush::kInvpcid},
        TlbCase{"InvpcidRexR8",
                {0x66, 0x44, 0x0f, 0x38, 0x82, 0x00},
                X86Kind::kOther,
                X86TlbFlush::kInvpcid},
        TlbCase{"InvpcidWithoutItsPrefixIsNot",
                {0x0f, 0x38, 0x82, 0x08},
                X86Kind::kOther,
                X86TlbFlush::kNone},
        TlbCase{"InvpcidRegisterFormIsInvalid",
                {0x66, 0x0f, 0x38, 0x82, 0xc8},
                X86Kind::kOther,
                X86TlbFlush::kNone},
        TlbCase{"TruncatedInvpcid", {0x66, 0x0f, 0x38, 0x82}, X86Kind::kOther, X86TlbFlush::kNone},
        TlbCase{"Invlpgb", {0x0f, 0x01, 0xfe}, X86Kind::kOther, X86TlbFlush::kInvlpgb},
        TlbCase{"Tlbsync", {0x0f, 0x01, 0xff}, X86Kind::kOther, X86TlbFlush::kNone},
        TlbCase{"Rsm", {0x0f, 0xaa}, X86Kind::kSerializing, X86TlbFlush::kRsm},
        TlbCase{"Clwb", {0x66, 0x0f, 0xae, 0x30}, X86Kind::kClwb, X86TlbFlush::kNone}),
    [](const ::testing::TestParamInfo<TlbCase>& info) { return info.param.name; });

struct AddressCase {
  std::string name;
  std::vector<uint8_t> bytes;
  X86Kind kind;
  void (*set_registers)(X86RegisterValues&);
  uint64_t vaddr;
  uint64_t expected;
};

constexpr int kRax = 0, kRcx = 1, kRdx = 2, kRbx = 3, kRsp = 4, kRbp = 5, kRsi = 6, kRdi = 7;
constexpr int kR8 = 8, kR12 = 12, kR13 = 13;

class FlushAddressTest : public ::testing::TestWithParam<AddressCase> {};

TEST_P(FlushAddressTest, EvaluatesTheOperandFromRegisters) {
  const AddressCase& c = GetParam();
  X86Instruction insn;
  ASSERT_TRUE(DecodeX86(c.bytes.data(), c.bytes.size(), c.vaddr, &insn));
  EXPECT_EQ(insn.kind, c.kind);
  X86RegisterValues regs;
  // Registers the operand does not use hold junk, so that a wrong register shows.
  for (int i = 0; i < 16; ++i) regs.gpr[i] = 0xbad0000000000000ULL + i;
  regs.fs_base = 0xbadf5;
  regs.gs_base = 0xbad65;
  c.set_registers(regs);
  EXPECT_EQ(EvaluateAddress(insn, regs), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, FlushAddressTest,
    ::testing::Values(AddressCase{"BaseOnly",  // clwb (%rax)
                                  {0x66, 0x0f, 0xae, 0x30},
                                  X86Kind::kClwb,
                                  [](X86RegisterValues& r) { r.gpr[kRax] = 0x7f0000001000; },
                                  0x1000,
                                  0x7f0000001000},
                      AddressCase{"BasePlusDisp8",  // clwb 0x10(%rbx)
                                  {0x66, 0x0f, 0xae, 0x73, 0x10},
                                  X86Kind::kClwb,
                                  [](X86RegisterValues& r) { r.gpr[kRbx] = 0x2000; },
                                  0x1000,
                                  0x2010},
                      AddressCase{"BaseIndexScaleNegativeDisp8",  // clwb -0x80(%rbp,%rcx,8)
                                  {0x66, 0x0f, 0xae, 0x74, 0xcd, 0x80},
                                  X86Kind::kClwb,
                                  [](X86RegisterValues& r) {
                                    r.gpr[kRbp] = 0x10000;
                                    r.gpr[kRcx] = 3;
                                  },
                                  0x1000,
                                  0xff98},
                      AddressCase{"RexExtendedBaseIndexDisp32",  // clwb 0x12345678(%r12,%r13,4)
                                  {0x66, 0x43, 0x0f, 0xae, 0xb4, 0xac, 0x78, 0x56, 0x34, 0x12},
                                  X86Kind::kClwb,
                                  [](X86RegisterValues& r) {
                                    r.gpr[kR12] = 0x1000000000;
                                    r.gpr[kR13] = 0x10;
                                  },
                                  0x1000,
                                  0x10123456b8},
                      AddressCase{"RipRelative",  // clwb 0x100(%rip), 8 bytes at 0x400000
                                  {0x66, 0x0f, 0xae, 0x35, 0x00, 0x01, 0x00, 0x00},
                                  X86Kind::kClwb,
                                  [](X86RegisterValues&) {},
                                  0x400000,
                                  0x400108},
                      AddressCase{"FsOverrideAbsoluteDisp32",  // clflushopt %fs:0x28
                                  {0x64, 0x66, 0x0f, 0xae, 0x3c, 0x25, 0x28, 0x00, 0x00, 0x00},
                                  X86Kind::kClflushopt,
                                  [](X86RegisterValues& r) { r.fs_base = 0x7ffff7d8a740; },
                                  0x1000,
                                  0x7ffff7d8a768},
                      AddressCase{"GsOverrideBase",  // clflush %gs:(%rsi)
                                  {0x65, 0x0f, 0xae, 0x3e},
                                  X86Kind::kClflush,
                                  [](X86RegisterValues& r) {
                                    r.gs_base = 0xffff888000000000;
                                    r.gpr[kRsi] = 0x40;
                                  },
                                  0x1000,
                                  0xffff888000000040},
                      AddressCase{"AddressSize32WrapsAt4GiB",  // clwb (%eax,%edx,2)
                                  {0x67, 0x66, 0x0f, 0xae, 0x34, 0x50},
                                  X86Kind::kClwb,
                                  [](X86RegisterValues& r) {
                                    r.gpr[kRax] = 0xfffffff0;
                                    r.gpr[kRdx] = 0x10;
                                  },
                                  0x1000,
                                  0x10},
                      AddressCase{"RexExtendedBase",  // clflushopt (%r8)
                                  {0x66, 0x41, 0x0f, 0xae, 0x38},
                                  X86Kind::kClflushopt,
                                  [](X86RegisterValues& r) { r.gpr[kR8] = 0x5000; },
                                  0x1000,
                                  0x5000},
                      AddressCase{"StackPointerBaseNeedsSib",  // clflush 0x7f(%rsp)
                                  {0x0f, 0xae, 0x7c, 0x24, 0x7f},
                                  X86Kind::kClflush,
                                  [](X86RegisterValues& r) { r.gpr[kRsp] = 0x8000; },
                                  0x1000,
                                  0x807f},
                      AddressCase{"IndexWithoutBase",  // clwb 0x40(,%rdi,8)
                                  {0x66, 0x0f, 0xae, 0x34, 0xfd, 0x40, 0x00, 0x00, 0x00},
                                  X86Kind::kClwb,
                                  [](X86RegisterValues& r) { r.gpr[kRdi] = 0x100; },
                                  0x1000,
                                  0x840},
                      AddressCase{"R13BaseNeedsDisp8",  // clflush 0x0(%r13)
                                  {0x41, 0x0f, 0xae, 0x7d, 0x00},
                                  X86Kind::kClflush,
                                  [](X86RegisterValues& r) { r.gpr[kR13] = 0x9000; },
                                  0x1000,
                                  0x9000},
                      AddressCase{
                          "RexAfterLegacyPrefixOnlyCounts",  // 41 66 0f ae 30: REX cancelled by 66
                          {0x41, 0x66, 0x0f, 0xae, 0x30},
                          X86Kind::kClwb,
                          [](X86RegisterValues& r) { r.gpr[kRax] = 0xa000; },
                          0x1000,
                          0xa000},
                      AddressCase{"RipRelativeNegative",  // clflush -0x20(%rip), 7 bytes at 0x1000
                                  {0x0f, 0xae, 0x3d, 0xe0, 0xff, 0xff, 0xff},
                                  X86Kind::kClflush,
                                  [](X86RegisterValues&) {},
                                  0x1000,
                                  0xfe7}),
    [](const ::testing::TestParamInfo<AddressCase>& info) { return info.param.name; });

TEST(DecodeRobustnessTest, EveryTruncationOfAFlushIsRejected) {
  const std::vector<uint8_t> full = {0x66, 0x43, 0x0f, 0xae, 0xb4, 0xac, 0x78, 0x56, 0x34, 0x12};
  for (size_t n = 0; n < full.size(); ++n) {
    X86Instruction insn;
    EXPECT_FALSE(DecodeX86(full.data(), n, 0, &insn)) << n << " bytes";
    EXPECT_EQ(insn.kind, X86Kind::kOther);
  }
}

TEST(DecodeRobustnessTest, NullBytesAndEmptyInputAreRejected) {
  X86Instruction insn;
  insn.kind = X86Kind::kClwb;  // A refusal says kOther, whatever was there.
  EXPECT_FALSE(DecodeX86(nullptr, 5, 0, &insn));
  EXPECT_EQ(insn.kind, X86Kind::kOther);
  uint8_t byte = 0x0f;
  insn.kind = X86Kind::kClwb;
  EXPECT_FALSE(DecodeX86(&byte, 0, 0, &insn));
  EXPECT_EQ(insn.kind, X86Kind::kOther);
}

TEST(DecodeRobustnessTest, PrefixesOnlyUpToFifteenBytesAreRejected) {
  std::vector<uint8_t> prefixes(32, 0x66);
  X86Instruction insn;
  EXPECT_FALSE(DecodeX86(prefixes.data(), prefixes.size(), 0, &insn));
  EXPECT_EQ(insn.size, 15);
}

TEST(DecodeRobustnessTest, RandomBytesNeverReadPastTheGivenSize) {
  // Each input sits at the very end of a buffer whose tail is poisoned by the sanitizers'
  // view of a std::vector's end; without them this still exercises every branch for crashes.
  uint64_t state = 12345;
  int recognised = 0;
  for (int round = 0; round < 200000; ++round) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t size = (state >> 60) % 16;
    std::vector<uint8_t> bytes(size);
    uint64_t mix = state;
    for (size_t i = 0; i < size; ++i) {
      mix = mix * 6364136223846793005ULL + 1;
      bytes[i] = static_cast<uint8_t>(mix >> 56);
      if (i == 0 && (mix & 1)) bytes[i] = 0x0f;  // Reach the two-byte map often.
    }
    X86Instruction insn;
    recognised += DecodeX86(bytes.data(), bytes.size(), 0, &insn);
    X86RegisterValues regs;
    (void)EvaluateAddress(insn, regs);
    ASSERT_LE(insn.size, 15);
  }
  EXPECT_GT(recognised, 0);
}

TEST(X86KindTest, LfenceAndNtStoresDoNotOrderPersistence) {
  EXPECT_FALSE(OrdersPersistence(X86Kind::kLfence));
  EXPECT_FALSE(OrdersPersistence(X86Kind::kNonTemporalStore));
  EXPECT_FALSE(OrdersPersistence(X86Kind::kClwb));
  EXPECT_TRUE(OrdersPersistence(X86Kind::kSfence));
  EXPECT_TRUE(OrdersPersistence(X86Kind::kLocked));
  EXPECT_TRUE(OrdersPersistence(X86Kind::kCpuid));
  EXPECT_TRUE(OrdersPersistence(X86Kind::kWbinvd));
}

}  // namespace
}  // namespace nvlab::plugin
