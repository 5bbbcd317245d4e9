// File: nvlab/explore/recording_decoder.h
//
// DecodeRecording reads the binary recording format (docs/formats/recording.md) strictly. The
// bytes come from a file and are untrusted: every length, count, kind and offset is checked
// before it is used, and a bad file is an InvalidArgument status whose message names the
// problem and its byte offset, never a crash or an unbounded allocation (the decoder is
// fuzzed). It rejects: a wrong magic, an unknown version or flag, an unknown record type, a
// record cut short, an NVDIMM record after the first other record, a process used before its
// record, a store flag other than bit 0, a missing end record, an event count or checksum that
// does not match, any byte after the end record, and every recording ValidateRecording rejects.
//
// Thread-safety: a pure function.

#ifndef NVLAB_EXPLORE_RECORDING_DECODER_H_
#define NVLAB_EXPLORE_RECORDING_DECODER_H_

#include <string_view>

#include "nvlab/explore/recording.h"
#include "nvlab/status.h"

namespace nvlab::explore {

// DecodeRecording fills *out on success; on failure *out is unspecified.
Status DecodeRecording(std::string_view bytes, Recording* out);

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_RECORDING_DECODER_H_
