// agent_frame_fuzzer.cc -- libFuzzer target over the agent wire format (nvlab/agent_frame.h):
// FrameDecoder, which reads the byte stream a guest writes to the host, and the payload decoders
// of exec, exit, hello-request, pty-open and pty-resize frames.
// The first input byte picks how the rest is fed to a decoder: in chunks of 1 to 256 bytes
// (byte value + 1), so that frames split across reads are exercised; the same bytes fed at once
// must give the same frames and the same verdict.
// Checks, besides ASan/UBSan: the decoder never buffers more than one frame and a read; every
// frame it returns is re-encoded to exactly the bytes it came from; every payload decoder's
// result is encoded back to exactly its payload (the decoders are strict: one text per value).
//
// Run: build/fuzz/fuzz/lab/agent_frame_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/agent_frame.h"
#include "nvlab/pty_request.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  (void)std::fprintf(stderr, "%s\n", what);
  std::abort();
}

void CheckPayloadDecoders(const nvlab::Frame& frame) {
  if (const auto argv = nvlab::DecodeExec(frame.payload)) {
    const auto encoded = nvlab::EncodeExec(*argv);
    if (!encoded || *encoded != frame.payload) Fail("exec payload does not round-trip");
  }
  if (const auto status = nvlab::DecodeExit(frame.payload)) {
    if (nvlab::EncodeExit(*status) != frame.payload) Fail("exit payload does not round-trip");
  }
  if (const auto nonce = nvlab::DecodeHelloRequest(frame.payload)) {
    const auto encoded = nvlab::EncodeHelloRequest(*nonce);
    if (!encoded || *encoded != frame.payload) Fail("hello-request does not round-trip");
    if (nvlab::HelloRequestLine(*nonce).find('\n') != nonce->size() + 8) {
      Fail("a hello-request line holds a newline of its nonce");
    }
  }
  if (const auto open = nvlab::DecodePtyOpen(frame.payload)) {
    const auto encoded = nvlab::EncodePtyOpen(*open);
    if (!encoded || *encoded != frame.payload) Fail("pty-open payload does not round-trip");
  }
  if (const auto size = nvlab::DecodePtyResize(frame.payload)) {
    const auto encoded = nvlab::EncodePtyResize(*size);
    if (!encoded || *encoded != frame.payload) Fail("pty-resize payload does not round-trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = size_t{data[0]} + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  nvlab::FrameDecoder chunked;
  std::vector<nvlab::Frame> frames;
  std::string consumed;  // the bytes of the frames returned so far
  for (size_t at = 0; at < stream.size(); at += chunk) {
    chunked.Feed(stream.substr(at, chunk));
    while (auto frame = chunked.Next()) {
      const std::string encoded = nvlab::EncodeFrame(frame->type, frame->payload);
      if (stream.substr(consumed.size(), encoded.size()) != encoded) {
        Fail("a frame does not re-encode to its bytes");
      }
      consumed += encoded;
      CheckPayloadDecoders(*frame);
      frames.push_back(std::move(*frame));
    }
    if (chunked.buffered() > nvlab::kFrameHeaderSize + nvlab::kMaxFramePayload + chunk) {
      Fail("the decoder buffers more than one frame and a read");
    }
  }

  nvlab::FrameDecoder whole;
  whole.Feed(stream);
  size_t count = 0;
  while (auto frame = whole.Next()) {
    if (count >= frames.size() || frame->type != frames[count].type ||
        frame->payload != frames[count].payload) {
      Fail("whole and chunked decoding disagree");
    }
    ++count;
  }
  if (count != frames.size() || whole.failed() != chunked.failed()) {
    Fail("whole and chunked decoding disagree");
  }
  return 0;
}
