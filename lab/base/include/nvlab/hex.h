// File: nvlab/hex.h
//
// The lab's one way to write and read hexadecimal: addresses and offsets as "0x" plus lowercase
// digits (as QEMU options and the cut report take them), byte strings such as digests as plain
// lowercase digit pairs, and fixed-width digit fields (cpio headers) read back strictly.
//
// Thread-safety: pure functions.

#ifndef NVLAB_HEX_H_
#define NVLAB_HEX_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace nvlab {

// FormatHex gives "0x" and lowercase hex digits, no leading zeros: FormatHex(0x100000000) is
// "0x100000000", FormatHex(0) is "0x0".
std::string FormatHex(uint64_t value);

// HexDigits gives two lowercase hex digits per byte, e.g. a SHA-256 digest as 64 characters.
std::string HexDigits(std::string_view bytes);

// ParseHexDigits reads 1 to 16 hex digits (either case, no prefix, nothing else) into *value.
// False, with *value unchanged, on anything else.
bool ParseHexDigits(std::string_view digits, uint64_t* value);

}  // namespace nvlab

#endif  // NVLAB_HEX_H_
