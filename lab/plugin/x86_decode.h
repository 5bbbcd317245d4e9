// File: lab/plugin/x86_decode.h
//
// A deliberately small x86-64 decoder for the persistence plugin. At translation time it tells
// the plugin which instructions matter to the persistence model, and for cache-line flushes
// how to compute the flushed address later, at execution time, from register values: CLWB,
// CLFLUSHOPT and CLFLUSH produce no memory callback under TCG, so their operand must be
// decoded (ModRM, SIB, displacement, REX/VEX register extensions, FS/GS overrides,
// RIP-relative, 0x67 address-size).
//
// What it recognises (64-bit mode; everything else is kOther):
//   flushes      CLFLUSH (0F AE /7 m), CLFLUSHOPT (66 0F AE /7 m), CLWB (66 0F AE /6 m)
//   fences       SFENCE (0F AE F8-FF), MFENCE (0F AE F0-F7), any LOCK-prefixed instruction,
//                XCHG with a memory operand (86/87, implicitly locked)
//   LFENCE       (0F AE E8-EF) reported as kLfence: it does not order stores or flushes
//   serializing  CPUID (kCpuid, so the plugin can look for the power-cut leaf), WBINVD and
//                WBNOINVD (kWbinvd: also write back every line), INVD, IRET/IRETQ, INVLPG,
//                WRMSR, MOV to CR/DR, LGDT, LIDT, LLDT, LTR, SERIALIZE, RSM (kSerializing)
//   NT stores    MOVNTI, MOVNTQ, MOVNTDQ, MOVNTPS/PD, MOVNTSS/SD, MASKMOVQ, MASKMOVDQU,
//                VEX VMOVNTDQ/PS/PD, VMASKMOVDQU, MOVDIRI, MOVDIR64B (kNonTemporalStore; the
//                plugin takes their addresses from memory callbacks, not from here)
// Independently of the kind, X86Instruction::tlb_flush names the instructions that invalidate
// TLB entries (MOV to CR0/CR3/CR4, INVLPG, INVPCID, INVLPGB, RSM): the plugin's translation
// cache (translation_cache.h) must forget what the guest's TLBs forget. INVPCID and INVLPGB
// are not serializing, so their kind stays kOther.
//
// Contract: DecodeX86 reads at most `size` bytes and never more than 15; for any input,
// including garbage and truncated instructions, it returns without undefined behaviour.
// `size` is the instruction's length as the translator reports it; RIP-relative operands are
// relative to vaddr + size.
//
// Thread-safety: pure functions over caller-owned values.

#ifndef NVLAB_PLUGIN_X86_DECODE_H_
#define NVLAB_PLUGIN_X86_DECODE_H_

#include <cstddef>
#include <cstdint>

namespace nvlab::plugin {

enum class X86Kind : uint8_t {
  kOther = 0,
  kClflush,
  kClflushopt,
  kClwb,
  kSfence,
  kMfence,
  kLfence,
  kLocked,
  kXchgMemory,
  kCpuid,
  kWbinvd,
  kSerializing,
  kNonTemporalStore,
};

// X86TlbFlush: which TLB-invalidating instruction this is (SDM vol. 3, 4.10.4), if any.
enum class X86TlbFlush : uint8_t {
  kNone = 0,
  kMovToCr0,  // MOV to CR0: paging on or off (CR0.PG), write protection (CR0.WP).
  kMovToCr3,  // MOV to CR3: an address space switch (or reload); with CR4.PCIDE, bit 63 of
              // the source keeps the new PCID's entries.
  kMovToCr4,  // MOV to CR4: PGE (the kernel toggles it to drop global entries), PCIDE, LA57.
  kInvlpg,    // INVLPG m: the entries for the page holding m, any size.
  kInvpcid,   // INVPCID r, m128: one address, one PCID, or everything.
  kInvlpgb,   // INVLPGB (AMD): broadcast invalidation, on every CPU at once.
  kRsm,       // RSM: leaving SMM restores CR0, CR3 and CR4.
};

// X86TlbFlushName returns a short lower-case name ("mov-cr3", "invlpg", ...; "none").
const char* X86TlbFlushName(X86TlbFlush flush);

// X86KindName returns a short lower-case name ("clwb", "locked", "serializing", ...).
const char* X86KindName(X86Kind kind);

// OrdersPersistence says whether the persistence model treats the kind as a fence: SFENCE,
// MFENCE, locked, XCHG with memory, and every serializing instruction (LFENCE does not).
bool OrdersPersistence(X86Kind kind);

// IsCacheLineFlush says whether the kind is CLFLUSH, CLFLUSHOPT or CLWB.
bool IsCacheLineFlush(X86Kind kind);

enum class X86Segment : uint8_t { kNone = 0, kFs, kGs };

// X86MemoryOperand is an effective-address recipe:
//   address = segment_base + base + index * scale + displacement (+ vaddr + size if
//   rip_relative), truncated to 32 bits when address32 (the sum, before the segment base).
// Registers are numbered as in the ModRM encoding: 0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp,
// 6 rsi, 7 rdi, 8-15 r8-r15; -1 means absent.
struct X86MemoryOperand {
  bool present = false;
  int8_t base = -1;
  int8_t index = -1;
  uint8_t scale = 1;
  int64_t displacement = 0;
  bool rip_relative = false;
  bool address32 = false;
  X86Segment segment = X86Segment::kNone;
};

struct X86Instruction {
  X86Kind kind = X86Kind::kOther;
  uint8_t size = 0;         // As given to DecodeX86 (capped at 15).
  uint64_t vaddr = 0;       // As given to DecodeX86.
  X86MemoryOperand memory;  // Filled for the flushes (their one operand).
  X86TlbFlush tlb_flush = X86TlbFlush::kNone;
};

// DecodeX86 classifies the instruction in bytes[0, size) at virtual address vaddr.
// Returns whether it matters to the plugin (a kind other than kOther, or a TLB flush); false
// (kind kOther, tlb_flush kNone) when the bytes are truncated or not understood.
bool DecodeX86(const uint8_t* bytes, size_t size, uint64_t vaddr, X86Instruction* out);

// X86RegisterValues are the registers an effective address may need.
struct X86RegisterValues {
  uint64_t gpr[16] = {};
  uint64_t fs_base = 0;
  uint64_t gs_base = 0;
};

// EvaluateAddress computes the operand's virtual address from register values.
uint64_t EvaluateAddress(const X86Instruction& insn, const X86RegisterValues& regs);

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_X86_DECODE_H_
