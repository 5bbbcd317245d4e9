// File: tests/plugin/x86_guest_program.h
//
// X86GuestProgram assembles a tiny bare-metal guest for the plugin's QEMU tests: a multiboot
// kernel (a.out kludge, loaded at 1 MiB as is) whose 32-bit entry enables PAE paging with an
// identity map of 0-8 GiB (1 GiB pages) and jumps to 64-bit code the test emits instruction by
// instruction. Each emitter returns the instruction's address (its PC: the map is identity),
// so a test states its expected events with the PCs that produced them.
//
// Image layout (as tests/plugin/qemu_plugin_test.cc's litmus guest): header and GDT at +0,
// the 32-bit entry at +0x100, the 64-bit code from +0x138, data at +kDataOffset, page tables
// at +0x1000 and +0x2000.
//
// Only the encodings the tests use, each with [base + disp32] memory operands.
// Header-only test code; not thread-safe.

#ifndef NVLAB_TESTS_PLUGIN_X86_GUEST_PROGRAM_H_
#define NVLAB_TESTS_PLUGIN_X86_GUEST_PROGRAM_H_

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

namespace nvlab::plugin_test {

enum Reg : uint8_t { kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi, kR8, kR9, kR10, kR11, kR12 };

class X86GuestProgram {
 public:
  static constexpr uint64_t kLoadAddress = 0x100000;
  static constexpr uint64_t kCodeOffset = 0x138;
  static constexpr uint64_t kDataOffset = 0xf00;  // Up to the page tables: 256 bytes.
  static constexpr uint64_t kDataAddress = kLoadAddress + kDataOffset;

  // The 64-bit code starts with: ds = ss = the data segment, rsp = 0x90000, SSE enabled.
  X86GuestProgram() {
    Emit({0xb8, 0x10, 0x00, 0x00, 0x00, 0x8e, 0xd8, 0x8e, 0xd0});  // mov $0x10,%eax; ds; ss
    Emit({0x48, 0xc7, 0xc4, 0x00, 0x00, 0x09, 0x00});              // mov $0x90000,%rsp
    // CR4.OSFXSR | OSXMMEXCPT: SSE instructions run (MOVDQU, MOVNTDQ).
    Emit({0x0f, 0x20, 0xe0, 0x48, 0x0d, 0x00, 0x06, 0x00, 0x00, 0x0f, 0x22, 0xe0});
  }

  uint64_t pc() const { return kLoadAddress + kCodeOffset + code_.size(); }

  // Data: bytes at kDataAddress + offset.
  void SetData(uint64_t offset, const void* bytes, size_t size) {
    if (data_.size() < offset + size) data_.resize(offset + size);
    std::memcpy(data_.data() + offset, bytes, size);
  }

  uint64_t MovImm64(Reg r, uint64_t imm) {  // mov $imm, %r
    const uint64_t at = pc();
    Emit({Rex(true, 0, r), static_cast<uint8_t>(0xb8 + (r & 7))});
    for (int i = 0; i < 8; ++i) code_.push_back(static_cast<uint8_t>(imm >> (8 * i)));
    return at;
  }
  uint64_t MovImm32(Reg r, uint32_t imm) {  // mov $imm, %r32 (zero-extends)
    const uint64_t at = pc();
    if (r >= 8) code_.push_back(0x41);
    code_.push_back(static_cast<uint8_t>(0xb8 + (r & 7)));
    Imm32(imm);
    return at;
  }
  uint64_t Store64(Reg src, Reg base, int32_t disp) {
    return Op({}, true, {0x89}, src, base, disp);
  }
  uint64_t Store8(Reg src, Reg base, int32_t disp) {  // REX always: sil/dil, not dh/bh.
    const uint64_t at = pc();
    code_.push_back(static_cast<uint8_t>(0x40 | ((src >> 3) << 2) | (base >> 3)));
    code_.push_back(0x88);
    ModRm(src, base, disp);
    return at;
  }
  uint64_t StoreImm64(Reg base, int32_t disp, int32_t imm) {  // movq $imm, disp(%base)
    const uint64_t at = Op({}, true, {0xc7}, 0, base, disp);
    Imm32(static_cast<uint32_t>(imm));
    return at;
  }
  uint64_t Load64(Reg dst, Reg base, int32_t disp) { return Op({}, true, {0x8b}, dst, base, disp); }
  uint64_t Movnti(Reg src, Reg base, int32_t disp) {
    return Op({}, true, {0x0f, 0xc3}, src, base, disp);
  }
  uint64_t MovdquStore(int xmm, Reg base, int32_t disp) {
    return Op({0xf3}, false, {0x0f, 0x7f}, xmm, base, disp);
  }
  uint64_t MovdquLoad(int xmm, Reg base, int32_t disp) {
    return Op({0xf3}, false, {0x0f, 0x6f}, xmm, base, disp);
  }
  uint64_t Movntdq(int xmm, Reg base, int32_t disp) {
    return Op({0x66}, false, {0x0f, 0xe7}, xmm, base, disp);
  }
  uint64_t Clwb(Reg base, int32_t disp) { return Op({0x66}, false, {0x0f, 0xae}, 6, base, disp); }
  uint64_t Clflushopt(Reg base, int32_t disp) {
    return Op({0x66}, false, {0x0f, 0xae}, 7, base, disp);
  }
  uint64_t Clflush(Reg base, int32_t disp) { return Op({}, false, {0x0f, 0xae}, 7, base, disp); }
  uint64_t Sfence() { return Raw({0x0f, 0xae, 0xf8}); }
  uint64_t Mfence() { return Raw({0x0f, 0xae, 0xf0}); }
  uint64_t LockAddZeroToStack() { return Raw({0xf0, 0x83, 0x04, 0x24, 0x00}); }
  uint64_t LockXadd64(Reg src, Reg base, int32_t disp) {  // lock xadd %src, disp(%base)
    return Op({0xf0}, true, {0x0f, 0xc1}, src, base, disp);
  }
  uint64_t Wbinvd() { return Raw({0x0f, 0x09}); }
  // Cpuid sets EAX and ECX and returns the PC of the CPUID itself.
  uint64_t Cpuid(uint32_t leaf, uint32_t subleaf) {
    MovImm32(kRax, leaf);
    MovImm32(kRcx, subleaf);
    return Raw({0x0f, 0xa2});
  }
  // WaitUntil spins until the 8 bytes at disp(%base) equal value (< 128); clobbers rdx.
  void WaitUntil(Reg base, int32_t disp, uint8_t value) {
    const uint64_t loop = Load64(kRdx, base, disp);
    Raw({0x48, 0x83, 0xfa, value});  // cmp $value, %rdx
    const auto back = static_cast<int64_t>(loop) - static_cast<int64_t>(pc() + 2);
    Raw({0x75, static_cast<uint8_t>(back)});  // jne loop
  }
  void HaltForever() { Raw({0xf4, 0xeb, 0xfd}); }

  // Image returns the multiboot kernel.
  std::vector<uint8_t> Image() const {
    std::vector<uint8_t> image(0x3000, 0);
    const uint32_t magic = 0x1BADB002, flags = 0x00010000;
    Put32(image, 0x00, magic);
    Put32(image, 0x04, flags);
    Put32(image, 0x08, 0u - (magic + flags));
    Put32(image, 0x0c, 0x100000);               // header_addr
    Put32(image, 0x10, 0x100000);               // load_addr
    Put32(image, 0x14, 0);                      // load_end_addr: the whole file
    Put32(image, 0x18, 0);                      // bss_end_addr: none
    Put32(image, 0x1c, 0x100100);               // entry_addr
    Put64(image, 0x28, 0x00AF9A000000FFFFULL);  // GDT[1]: 64-bit code
    Put64(image, 0x30, 0x00CF92000000FFFFULL);  // GDT[2]: data
    image[0x40] = 23;                           // GDTR: limit, then base 0x100020
    Put32(image, 0x42, 0x100020);
    // entry32: CR4.PAE, CR3 = 0x101000, EFER.LME, CR0.PG|PE, lgdt 0x100040, ljmp 0x08:0x100138.
    static const uint8_t kEntry32[] = {
        0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x10, 0x10, 0x00,
        0x0f, 0x22, 0xd8, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00,
        0x00, 0x0f, 0x30, 0x0f, 0x20, 0xc0, 0x0d, 0x01, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0,
        0x0f, 0x01, 0x15, 0x40, 0x00, 0x10, 0x00, 0xea, 0x38, 0x01, 0x10, 0x00, 0x08, 0x00};
    static_assert(sizeof kEntry32 == kCodeOffset - 0x100);
    std::memcpy(image.data() + 0x100, kEntry32, sizeof kEntry32);
    std::memcpy(image.data() + kCodeOffset, code_.data(), code_.size());
    std::memcpy(image.data() + kDataOffset, data_.data(), data_.size());
    Put64(image, 0x1000, 0x102000 | 0x3);
    for (uint64_t i = 0; i < 8; ++i) Put64(image, 0x2000 + 8 * i, (i << 30) | 0x83);
    return image;
  }

  // Fits says whether code and data stay clear of each other and of the page tables.
  bool Fits() const { return kCodeOffset + code_.size() <= kDataOffset && data_.size() <= 0x100; }

 private:
  static uint8_t Rex(bool w, int reg, int base) {
    return static_cast<uint8_t>(0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | (base >> 3));
  }
  static void Put32(std::vector<uint8_t>& image, size_t offset, uint32_t value) {
    std::memcpy(image.data() + offset, &value, sizeof value);
  }
  static void Put64(std::vector<uint8_t>& image, size_t offset, uint64_t value) {
    std::memcpy(image.data() + offset, &value, sizeof value);
  }
  void Emit(std::initializer_list<uint8_t> bytes) { code_.insert(code_.end(), bytes); }
  uint64_t Raw(std::initializer_list<uint8_t> bytes) {
    const uint64_t at = pc();
    Emit(bytes);
    return at;
  }
  void Imm32(uint32_t imm) {
    for (int i = 0; i < 4; ++i) code_.push_back(static_cast<uint8_t>(imm >> (8 * i)));
  }
  // ModRm: mod 10 (disp32), reg, base (a SIB for rsp/r12).
  void ModRm(int reg, Reg base, int32_t disp) {
    code_.push_back(static_cast<uint8_t>(0x80 | ((reg & 7) << 3) | (base & 7)));
    if ((base & 7) == 4) code_.push_back(0x24);
    Imm32(static_cast<uint32_t>(disp));
  }
  // Op: legacy prefixes, REX when needed (W, or an extended register), opcode, ModRM.
  uint64_t Op(std::initializer_list<uint8_t> prefixes, bool w,
              std::initializer_list<uint8_t> opcode, int reg, Reg base, int32_t disp) {
    const uint64_t at = pc();
    Emit(prefixes);
    if (w || reg >= 8 || base >= 8) code_.push_back(Rex(w, reg, base));
    Emit(opcode);
    ModRm(reg, base, disp);
    return at;
  }

  std::vector<uint8_t> code_;
  std::vector<uint8_t> data_;
};

}  // namespace nvlab::plugin_test

#endif  // NVLAB_TESTS_PLUGIN_X86_GUEST_PROGRAM_H_
