// File: nvlab/image/json_text.h
//
// JsonQuote writes a JSON string literal (RFC 8259): the image manifest is written by hand, and
// package versions, paths and file names must come out valid whatever they contain.
//
// Thread-safety: pure function.

#ifndef NVLAB_IMAGE_JSON_TEXT_H_
#define NVLAB_IMAGE_JSON_TEXT_H_

#include <string>
#include <string_view>

namespace nvlab::image {

// JsonQuote returns text in double quotes with '"', '\\' and control characters escaped.
// Bytes >= 0x80 pass through unchanged (the caller's text is UTF-8).
std::string JsonQuote(std::string_view text);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_JSON_TEXT_H_
