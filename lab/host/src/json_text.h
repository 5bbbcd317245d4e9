// File: json_text.h (internal to nvlab_host)
//
// JsonQuote writes a JSON string literal (RFC 8259): the image manifest is written by hand, and
// package versions, paths and file names must come out valid whatever they contain.
//
// Thread-safety: pure function.

#ifndef NVLAB_HOST_JSON_TEXT_H_
#define NVLAB_HOST_JSON_TEXT_H_

#include <string>
#include <string_view>

namespace nvlab::guest_image_internal {

// JsonQuote returns text in double quotes with '"', '\\' and control characters escaped.
// Bytes >= 0x80 pass through unchanged (the caller's text is UTF-8).
std::string JsonQuote(std::string_view text);

}  // namespace nvlab::guest_image_internal

#endif  // NVLAB_HOST_JSON_TEXT_H_
