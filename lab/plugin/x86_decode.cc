// x86_decode.cc -- DecodeX86, EvaluateAddress and the kind predicates.
//
// Decoding walks the instruction as the SDM lays it out: legacy prefixes, then REX or a VEX
// prefix, then the opcode (one byte, 0F xx, 0F 38 xx), then ModRM, SIB and displacement.
// Every read goes through Cursor, which refuses to pass the end of the bytes.
#include "x86_decode.h"

namespace nvlab::plugin {
namespace {

constexpr size_t kMaxInstructionSize = 15;

// Cursor -- (internal) bounds-checked reader over the instruction bytes.
class Cursor {
 public:
  Cursor(const uint8_t* bytes, size_t size) : bytes_(bytes), size_(size) {}
  bool Peek(uint8_t* b) const {
    if (pos_ >= size_) return false;
    *b = bytes_[pos_];
    return true;
  }
  bool Next(uint8_t* b) {
    if (!Peek(b)) return false;
    ++pos_;
    return true;
  }
  bool NextDisplacement(unsigned width, int64_t* out) {
    uint64_t value = 0;
    for (unsigned i = 0; i < width; ++i) {
      uint8_t b = 0;
      if (!Next(&b)) return false;
      value |= uint64_t{b} << (8 * i);
    }
    *out = width == 1 ? static_cast<int8_t>(value)
                      : static_cast<int32_t>(static_cast<uint32_t>(value));
    return true;
  }

 private:
  const uint8_t* bytes_;
  size_t size_;
  size_t pos_ = 0;
};

// Prefixes -- (internal) what the prefixes before the opcode said.
struct Prefixes {
  bool lock = false;
  bool operand16 = false;  // 66
  bool rep = false;        // F3
  bool repne = false;      // F2
  bool address32 = false;  // 67
  X86Segment segment = X86Segment::kNone;
  // REX (or VEX's inverted copies): extensions of ModRM.reg, SIB.index, ModRM.rm/SIB.base.
  bool rex_w = false;
  bool rex_r = false;
  bool rex_x = false;
  bool rex_b = false;
};

// DecodeMemoryOperand -- (internal) ModRM (+SIB, displacement). Returns false when truncated;
// sets *is_memory to false for a register operand (mod == 3).
bool DecodeModRm(Cursor& cursor, const Prefixes& prefixes, uint8_t* reg, bool* is_memory,
                 X86MemoryOperand* memory) {
  uint8_t modrm = 0;
  if (!cursor.Next(&modrm)) return false;
  uint8_t mod = modrm >> 6;
  *reg = (modrm >> 3) & 7;
  uint8_t rm = modrm & 7;
  *is_memory = mod != 3;
  if (mod == 3) return true;

  X86MemoryOperand m;
  m.present = true;
  m.address32 = prefixes.address32;
  m.segment = prefixes.segment;
  unsigned displacement_width = mod == 1 ? 1 : mod == 2 ? 4 : 0;
  if (rm == 4) {
    uint8_t sib = 0;
    if (!cursor.Next(&sib)) return false;
    m.scale = static_cast<uint8_t>(1u << (sib >> 6));
    uint8_t index = ((sib >> 3) & 7) | (prefixes.rex_x ? 8 : 0);
    if (index != 4) m.index = static_cast<int8_t>(index);  // 100b without REX.X: no index.
    uint8_t base = sib & 7;
    if (base == 5 && mod == 0) {
      displacement_width = 4;  // No base register, disp32.
    } else {
      m.base = static_cast<int8_t>(base | (prefixes.rex_b ? 8 : 0));
    }
  } else if (rm == 5 && mod == 0) {
    m.rip_relative = true;
    displacement_width = 4;
  } else {
    m.base = static_cast<int8_t>(rm | (prefixes.rex_b ? 8 : 0));
  }
  if (displacement_width != 0 && !cursor.NextDisplacement(displacement_width, &m.displacement)) {
    return false;
  }
  *memory = m;
  return true;
}

// ControlRegisterFlush -- (internal) what a MOV to control register `cr` invalidates.
X86TlbFlush ControlRegisterFlush(unsigned cr) {
  switch (cr) {
    case 0:
      return X86TlbFlush::kMovToCr0;
    case 3:
      return X86TlbFlush::kMovToCr3;
    case 4:
      return X86TlbFlush::kMovToCr4;
    default:
      return X86TlbFlush::kNone;  // CR2, CR8 (TPR): no translation changes.
  }
}

// DecodeMap0F -- (internal) opcodes after 0F (two-byte map), legacy encoded; sets *tlb for the
// instructions that invalidate TLB entries.
X86Kind DecodeMap0F(Cursor& cursor, const Prefixes& p, X86MemoryOperand* memory, X86TlbFlush* tlb) {
  uint8_t op = 0;
  if (!cursor.Next(&op)) return X86Kind::kOther;
  bool no_simd_prefix = !p.operand16 && !p.rep && !p.repne;
  uint8_t reg = 0;
  bool is_memory = false;
  X86MemoryOperand m;
  switch (op) {
    case 0x00:  // Group 6: /2 LLDT, /3 LTR.
      if (!DecodeModRm(cursor, p, &reg, &is_memory, &m)) return X86Kind::kOther;
      return reg == 2 || reg == 3 ? X86Kind::kSerializing : X86Kind::kOther;
    case 0x01: {  // Group 7: /2 LGDT, /3 LIDT, /7 INVLPG (memory); 0F 01 E8 SERIALIZE;
                  // 0F 01 FE INVLPGB (not serializing).
      uint8_t modrm = 0;
      if (!cursor.Peek(&modrm)) return X86Kind::kOther;
      if (modrm == 0xE8 && no_simd_prefix) return X86Kind::kSerializing;
      if (modrm == 0xFE && no_simd_prefix) {
        *tlb = X86TlbFlush::kInvlpgb;
        return X86Kind::kOther;
      }
      if (!DecodeModRm(cursor, p, &reg, &is_memory, &m)) return X86Kind::kOther;
      if (is_memory && reg == 7) *tlb = X86TlbFlush::kInvlpg;
      if (is_memory && (reg == 2 || reg == 3 || reg == 7)) return X86Kind::kSerializing;
      return X86Kind::kOther;
    }
    case 0x08:  // INVD
      return X86Kind::kSerializing;
    case 0x09:  // WBINVD, F3: WBNOINVD (also writes back every line).
      return X86Kind::kWbinvd;
    case 0x22: {  // MOV to CR: ModRM.reg (with REX.R) is the control register.
      uint8_t modrm = 0;
      if (cursor.Peek(&modrm)) {
        *tlb = ControlRegisterFlush(((modrm >> 3) & 7) | (p.rex_r ? 8 : 0));
      }
      return X86Kind::kSerializing;
    }
    case 0xAA:  // RSM
      *tlb = X86TlbFlush::kRsm;
      return X86Kind::kSerializing;
    case 0x23:  // MOV to DR
    case 0x30:  // WRMSR
      return X86Kind::kSerializing;
    case 0xA2:
      return X86Kind::kCpuid;
    case 0x2B:  // MOVNTPS (NP), MOVNTPD (66), MOVNTSS/SD (F3/F2, AMD SSE4a).
    case 0xC3:  // MOVNTI
    case 0xE7:  // MOVNTQ (NP), MOVNTDQ (66)
      if (!DecodeModRm(cursor, p, &reg, &is_memory, &m)) return X86Kind::kOther;
      return is_memory ? X86Kind::kNonTemporalStore : X86Kind::kOther;
    case 0xF7:  // MASKMOVQ (NP), MASKMOVDQU (66): register operands, stores to [rdi].
      if (!DecodeModRm(cursor, p, &reg, &is_memory, &m)) return X86Kind::kOther;
      return !is_memory && !p.rep && !p.repne ? X86Kind::kNonTemporalStore : X86Kind::kOther;
    case 0x38: {  // Three-byte map 0F 38: F8 MOVDIR64B (66), F9 MOVDIRI (NP), 82 INVPCID (66).
      uint8_t op3 = 0;
      if (!cursor.Next(&op3)) return X86Kind::kOther;
      if (op3 == 0x82) {
        if (DecodeModRm(cursor, p, &reg, &is_memory, &m) && is_memory && p.operand16 && !p.rep &&
            !p.repne) {
          *tlb = X86TlbFlush::kInvpcid;
        }
        return X86Kind::kOther;
      }
      if (op3 != 0xF8 && op3 != 0xF9) return X86Kind::kOther;
      if (!DecodeModRm(cursor, p, &reg, &is_memory, &m) || !is_memory) return X86Kind::kOther;
      if (op3 == 0xF8 && p.operand16 && !p.rep && !p.repne) return X86Kind::kNonTemporalStore;
      if (op3 == 0xF9 && no_simd_prefix) return X86Kind::kNonTemporalStore;
      return X86Kind::kOther;
    }
    case 0xAE: {  // Group 15.
      if (!DecodeModRm(cursor, p, &reg, &is_memory, &m)) return X86Kind::kOther;
      if (!is_memory) {
        if (!no_simd_prefix) return X86Kind::kOther;  // TPAUSE, UMWAIT, PCOMMIT, ...
        if (reg == 7) return X86Kind::kSfence;
        if (reg == 6) return X86Kind::kMfence;
        if (reg == 5) return X86Kind::kLfence;
        return X86Kind::kOther;
      }
      if (p.rep || p.repne) return X86Kind::kOther;
      X86Kind kind = X86Kind::kOther;
      if (reg == 7) kind = p.operand16 ? X86Kind::kClflushopt : X86Kind::kClflush;
      if (reg == 6 && p.operand16) kind = X86Kind::kClwb;
      if (kind != X86Kind::kOther) *memory = m;
      return kind;
    }
    default:
      return X86Kind::kOther;
  }
}

// DecodeVex -- (internal) a VEX-encoded instruction; c4_or_c5 is the prefix byte already read.
X86Kind DecodeVex(Cursor& cursor, uint8_t c4_or_c5, Prefixes p) {
  uint8_t map = 1;
  uint8_t pp = 0;
  uint8_t b1 = 0;
  if (!cursor.Next(&b1)) return X86Kind::kOther;
  p.rex_r = !(b1 & 0x80);
  if (c4_or_c5 == 0xC5) {
    pp = b1 & 3;
  } else {
    uint8_t b2 = 0;
    if (!cursor.Next(&b2)) return X86Kind::kOther;
    p.rex_x = !(b1 & 0x40);
    p.rex_b = !(b1 & 0x20);
    map = b1 & 0x1F;
    pp = b2 & 3;
  }
  uint8_t op = 0;
  if (!cursor.Next(&op)) return X86Kind::kOther;
  uint8_t reg = 0;
  bool is_memory = false;
  X86MemoryOperand m;
  if (map != 1) return X86Kind::kOther;
  // VMOVNTPS (NP 2B), VMOVNTPD (66 2B), VMOVNTDQ (66 E7): memory destination.
  if ((op == 0x2B && pp <= 1) || (op == 0xE7 && pp == 1)) {
    if (!DecodeModRm(cursor, p, &reg, &is_memory, &m)) return X86Kind::kOther;
    return is_memory ? X86Kind::kNonTemporalStore : X86Kind::kOther;
  }
  if (op == 0xF7 && pp == 1) {  // VMASKMOVDQU
    if (!DecodeModRm(cursor, p, &reg, &is_memory, &m)) return X86Kind::kOther;
    return is_memory ? X86Kind::kOther : X86Kind::kNonTemporalStore;
  }
  return X86Kind::kOther;
}

}  // namespace

bool DecodeX86(const uint8_t* bytes, size_t size, uint64_t vaddr, X86Instruction* out) {
  *out = X86Instruction();
  if (bytes == nullptr) return false;
  if (size > kMaxInstructionSize) size = kMaxInstructionSize;
  out->size = static_cast<uint8_t>(size);
  out->vaddr = vaddr;
  Cursor cursor(bytes, size);
  Prefixes p;
  uint8_t b = 0;
  for (;;) {
    if (!cursor.Next(&b)) return false;
    if (b >= 0x40 && b <= 0x4F) {  // REX
      p.rex_w = b & 8;
      p.rex_r = b & 4;
      p.rex_x = b & 2;
      p.rex_b = b & 1;
      continue;
    }
    bool legacy_prefix = true;
    switch (b) {
      case 0xF0:
        p.lock = true;
        break;
      case 0xF2:
        p.repne = true;
        break;
      case 0xF3:
        p.rep = true;
        break;
      case 0x66:
        p.operand16 = true;
        break;
      case 0x67:
        p.address32 = true;
        break;
      case 0x64:
        p.segment = X86Segment::kFs;
        break;
      case 0x65:
        p.segment = X86Segment::kGs;
        break;
      case 0x26:
      case 0x2E:
      case 0x36:
      case 0x3E:
        p.segment = X86Segment::kNone;  // ES/CS/SS/DS: base 0 in 64-bit mode.
        break;
      default:
        legacy_prefix = false;
        break;
    }
    if (!legacy_prefix) break;
    // A REX counts only right before the opcode: a legacy prefix after it cancels it.
    p.rex_w = p.rex_r = p.rex_x = p.rex_b = false;
  }
  X86Kind kind = X86Kind::kOther;
  if (b == 0x0F) {
    kind = DecodeMap0F(cursor, p, &out->memory, &out->tlb_flush);
  } else if (b == 0xC4 || b == 0xC5) {
    kind = DecodeVex(cursor, b, p);
  } else if (b == 0x86 || b == 0x87) {
    uint8_t reg = 0;
    bool is_memory = false;
    X86MemoryOperand m;
    if (DecodeModRm(cursor, p, &reg, &is_memory, &m) && is_memory) kind = X86Kind::kXchgMemory;
  } else if (b == 0xCF) {
    kind = X86Kind::kSerializing;  // IRET / IRETQ
  }
  // LOCK makes any instruction a fence (the CPU faults on LOCK with no memory operand, which
  // enters the kernel: serializing as well).
  if (p.lock && kind == X86Kind::kOther) kind = X86Kind::kLocked;
  if (!IsCacheLineFlush(kind)) out->memory = X86MemoryOperand();
  out->kind = kind;
  return kind != X86Kind::kOther || out->tlb_flush != X86TlbFlush::kNone;
}

uint64_t EvaluateAddress(const X86Instruction& insn, const X86RegisterValues& regs) {
  const X86MemoryOperand& m = insn.memory;
  uint64_t address = static_cast<uint64_t>(m.displacement);
  if (m.base >= 0 && m.base < 16) address += regs.gpr[m.base];
  if (m.index >= 0 && m.index < 16) address += regs.gpr[m.index] * m.scale;
  if (m.rip_relative) address += insn.vaddr + insn.size;
  if (m.address32) address &= 0xFFFFFFFFu;
  if (m.segment == X86Segment::kFs) address += regs.fs_base;
  if (m.segment == X86Segment::kGs) address += regs.gs_base;
  return address;
}

const char* X86KindName(X86Kind kind) {
  switch (kind) {
    case X86Kind::kOther:
      return "other";
    case X86Kind::kClflush:
      return "clflush";
    case X86Kind::kClflushopt:
      return "clflushopt";
    case X86Kind::kClwb:
      return "clwb";
    case X86Kind::kSfence:
      return "sfence";
    case X86Kind::kMfence:
      return "mfence";
    case X86Kind::kLfence:
      return "lfence";
    case X86Kind::kLocked:
      return "locked";
    case X86Kind::kXchgMemory:
      return "xchg-memory";
    case X86Kind::kCpuid:
      return "cpuid";
    case X86Kind::kWbinvd:
      return "wbinvd";
    case X86Kind::kSerializing:
      return "serializing";
    case X86Kind::kNonTemporalStore:
      return "nt-store";
  }
  return "unknown";
}

const char* X86TlbFlushName(X86TlbFlush flush) {
  switch (flush) {
    case X86TlbFlush::kNone:
      return "none";
    case X86TlbFlush::kMovToCr0:
      return "mov-cr0";
    case X86TlbFlush::kMovToCr3:
      return "mov-cr3";
    case X86TlbFlush::kMovToCr4:
      return "mov-cr4";
    case X86TlbFlush::kInvlpg:
      return "invlpg";
    case X86TlbFlush::kInvpcid:
      return "invpcid";
    case X86TlbFlush::kInvlpgb:
      return "invlpgb";
    case X86TlbFlush::kRsm:
      return "rsm";
  }
  return "unknown";
}

bool OrdersPersistence(X86Kind kind) {
  switch (kind) {
    case X86Kind::kSfence:
    case X86Kind::kMfence:
    case X86Kind::kLocked:
    case X86Kind::kXchgMemory:
    case X86Kind::kCpuid:
    case X86Kind::kWbinvd:
    case X86Kind::kSerializing:
      return true;
    default:
      return false;
  }
}

bool IsCacheLineFlush(X86Kind kind) {
  return kind == X86Kind::kClflush || kind == X86Kind::kClflushopt || kind == X86Kind::kClwb;
}

}  // namespace nvlab::plugin
