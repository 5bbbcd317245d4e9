// File: nvlab/console_tail.h
//
// ReadConsoleTail returns the last lines of a guest's serial console file, made safe to print
// (EscapeUntrustedLines: the guest's output is untrusted). Guest and DomainGuest put it into
// their failure messages, so a boot that stops says where.
//
// Thread-safety: a free function without shared state.

#ifndef NVLAB_CONSOLE_TAIL_H_
#define NVLAB_CONSOLE_TAIL_H_

#include <filesystem>
#include <string>

namespace nvlab {

// ReadConsoleTail reads at most the last 64 KiB of `console` and returns its last `lines` lines;
// empty when the file is missing, unreadable or empty.
std::string ReadConsoleTail(const std::filesystem::path& console, int lines);

}  // namespace nvlab

#endif  // NVLAB_CONSOLE_TAIL_H_
