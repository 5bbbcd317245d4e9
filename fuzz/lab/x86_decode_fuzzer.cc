// x86_decode_fuzzer.cc -- libFuzzer target over the plugin's x86-64 decoder
// (lab/plugin/x86_decode.h): the guest's code, decoded at translation time.
// The input is the instruction's length as the translator reports it (first byte), register
// values for EvaluateAddress (the next 18 words: 16 GPRs, FS and GS bases), then the bytes,
// copied into a buffer of exactly that length so that ASan sees a read past it.
// Checks, besides ASan/UBSan: DecodeX86 reads at most `size` bytes and records min(size, 15);
// an instruction that does not matter is kOther with no TLB flush; a flush has a memory operand
// whose registers are 0-15 or absent and whose scale is 1, 2, 4 or 8; every kind and flush has
// a name; EvaluateAddress returns for any registers.
//
// Run: build/fuzz/fuzz/lab/x86_decode_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "forged_guest_memory.h"
#include "x86_decode.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  (void)std::fprintf(stderr, "%s\n", what);
  std::abort();
}

bool ValidRegister(int8_t r) {
  return r >= -1 && r <= 15;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nvlab::plugin::X86Instruction;
  using nvlab::plugin::X86Kind;
  using nvlab::plugin::X86TlbFlush;
  if (size == 0) return 0;
  const size_t length = data[0] % 20;  // past 15 too: the translator's word is not trusted
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  nvlab::plugin::X86RegisterValues regs;
  for (uint64_t& gpr : regs.gpr) gpr = nvlab::fuzz::TakeWord(&input);
  regs.fs_base = nvlab::fuzz::TakeWord(&input);
  regs.gs_base = nvlab::fuzz::TakeWord(&input);
  const uint64_t vaddr = nvlab::fuzz::TakeWord(&input);
  if (input.size() < length) return 0;
  const std::unique_ptr<uint8_t[]> bytes(new uint8_t[length == 0 ? 1 : length]);
  std::memcpy(bytes.get(), input.data(), length);

  X86Instruction insn;
  const bool matters = nvlab::plugin::DecodeX86(bytes.get(), length, vaddr, &insn);
  if (insn.size != (length < 15 ? length : 15) || insn.vaddr != vaddr) Fail("size or vaddr");
  if (!matters && (insn.kind != X86Kind::kOther || insn.tlb_flush != X86TlbFlush::kNone)) {
    Fail("an instruction that does not matter has a kind or a flush");
  }
  if (matters && insn.kind == X86Kind::kOther && insn.tlb_flush == X86TlbFlush::kNone) {
    Fail("an instruction that matters has neither kind nor flush");
  }
  if (nvlab::plugin::X86KindName(insn.kind) == nullptr ||
      nvlab::plugin::X86TlbFlushName(insn.tlb_flush) == nullptr) {
    Fail("a nameless kind");
  }
  if (nvlab::plugin::IsCacheLineFlush(insn.kind)) {
    const auto& m = insn.memory;
    if (!m.present || !ValidRegister(m.base) || !ValidRegister(m.index) ||
        (m.scale != 1 && m.scale != 2 && m.scale != 4 && m.scale != 8)) {
      Fail("a flush without a well-formed memory operand");
    }
    if (m.rip_relative && (m.base != -1 || m.index != -1)) Fail("RIP-relative with registers");
    (void)nvlab::plugin::EvaluateAddress(insn, regs);
  }
  (void)nvlab::plugin::OrdersPersistence(insn.kind);
  return 0;
}
