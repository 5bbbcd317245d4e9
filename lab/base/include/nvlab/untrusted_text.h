// File: nvlab/untrusted_text.h
//
// Bytes nvlab did not write itself (a guest's process names, symbol names from the user's files,
// the plugin's report) are printed only through EscapeUntrusted: the lab's one escaper, so that
// nothing a guest controls can move a terminal's cursor, forge a line of nvlab's own output or
// make a JSON document invalid.
//
// Thread-safety: pure functions.

#ifndef NVLAB_UNTRUSTED_TEXT_H_
#define NVLAB_UNTRUSTED_TEXT_H_

#include <string>
#include <string_view>

namespace nvlab {

// EscapeUntrusted returns bytes with everything but printable ASCII, and the backslash itself,
// written as \xNN: safe for a terminal, unambiguous, and ASCII (valid in JSON).
std::string EscapeUntrusted(std::string_view bytes);

// EscapeUntrustedLines is EscapeUntrusted for text shown as lines (a console's tail, a guest's
// message): newlines and tabs pass as they are, "\r\n" becomes "\n", everything else is written
// as EscapeUntrusted writes it.
std::string EscapeUntrustedLines(std::string_view text);

}  // namespace nvlab

#endif  // NVLAB_UNTRUSTED_TEXT_H_
