// recording_fuzzer.cc -- libFuzzer target over the recording decoder (nvlab/explore/
// recording_decoder.h). A recording is written by the plugin inside a QEMU whose guest chooses
// every stored byte, address and process name, and is read back by nvlab explore from a file
// anyone could have edited: the decoder must refuse what is malformed, never crash, never
// allocate without bound.
// Checks, besides ASan/UBSan: a recording the decoder accepts is valid (ValidateRecording), and
// encodes back to bytes that decode to the same recording.
//
// Run: build/fuzz/fuzz/lab/recording_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "nvlab/explore/recording.h"
#include "nvlab/explore/recording_decoder.h"
#include "nvlab/explore/recording_encoder.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  (void)std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  nvlab::explore::Recording recording;
  if (!nvlab::explore::DecodeRecording(bytes, &recording).ok()) return 0;
  if (const nvlab::Status valid = nvlab::explore::ValidateRecording(recording); !valid.ok()) {
    Fail("the decoder accepted an invalid recording: " + valid.message());
  }
  const std::string again = nvlab::explore::EncodeRecording(recording);
  nvlab::explore::Recording decoded;
  if (const nvlab::Status s = nvlab::explore::DecodeRecording(again, &decoded); !s.ok()) {
    Fail("an accepted recording does not decode after encoding: " + s.message());
  }
  if (!(decoded == recording)) Fail("encode -> decode changed an accepted recording");
  return 0;
}
