// resume_request_fuzzer.cc -- libFuzzer target over the resume request (nvlab/resume_request.h),
// which the agent, PID 1 of a guest, decodes from whoever holds the host end of its port.
// An input whose first byte is even is decoded as it is; one whose first byte is odd fills the
// fields of a request (nonce, seed, clock, NVDIMM settings, blank NVDIMMs) for the writer ->
// reader round trip.
// Checks, besides ASan/UBSan: a decoded request encodes back to a payload that decodes to the
// same request; whatever EncodeResumeRequest accepts, DecodeResumeRequest reads back unchanged.
//
// Run: build/fuzz/fuzz/lab/resume_request_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "nvlab/resume_request.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  (void)std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

bool Same(const nvlab::ResumeRequest& a, const nvlab::ResumeRequest& b) {
  return a.nonce == b.nonce && a.seed == b.seed && a.has_realtime == b.has_realtime &&
         (!a.has_realtime || (a.realtime_seconds == b.realtime_seconds &&
                              a.realtime_nanoseconds == b.realtime_nanoseconds)) &&
         a.ns == b.ns && a.fs == b.fs && a.nvdimms == b.nvdimms && a.share == b.share &&
         a.blank == b.blank;
}

// Take copies the next n bytes of *input into out (zeros past its end).
void Take(std::string_view* input, void* out, size_t n) {
  std::memset(out, 0, n);
  const size_t have = n < input->size() ? n : input->size();
  std::memcpy(out, input->data(), have);
  input->remove_prefix(have);
}

nvlab::ResumeRequest RequestFrom(std::string_view input) {
  static const char* const kNs[] = {"devdax", "fsdax", "raw", "dax"};
  static const char* const kFs[] = {"ext4", "xfs", "btrfs"};
  nvlab::ResumeRequest r;
  uint8_t flags = 0;
  Take(&input, &flags, 1);
  Take(&input, r.seed.data(), r.seed.size());
  Take(&input, &r.realtime_seconds, sizeof r.realtime_seconds);
  Take(&input, &r.realtime_nanoseconds, sizeof r.realtime_nanoseconds);
  uint8_t nvdimms = 0;
  Take(&input, &nvdimms, 1);
  r.has_realtime = (flags & 1) != 0;
  r.share = (flags & 2) != 0;
  r.ns = kNs[(flags >> 2) & 3];
  r.fs = kFs[((flags >> 4) & 3) % 3];
  r.nvdimms = static_cast<int>(nvdimms) - 64;  // below 1 and above the limit too
  uint8_t blank = 0;
  Take(&input, &blank, 1);
  for (int i = 0; i < (blank & 7); ++i) {  // up to 7 addresses, in any order, repeats too
    uint64_t address = 0;
    Take(&input, &address, sizeof address);
    r.blank.push_back(address);
  }
  r.nonce = std::string(input);  // the rest
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0) {
    const nvlab::ResumeRequest request = RequestFrom(input);
    const std::optional<std::string> payload = nvlab::EncodeResumeRequest(request);
    if (!payload) return 0;
    const std::optional<nvlab::ResumeRequest> decoded = nvlab::DecodeResumeRequest(*payload);
    if (!decoded || !Same(request, *decoded)) Fail("the agent does not read back: " + *payload);
    return 0;
  }
  const std::optional<nvlab::ResumeRequest> decoded = nvlab::DecodeResumeRequest(input);
  if (!decoded) return 0;
  const std::optional<std::string> payload = nvlab::EncodeResumeRequest(*decoded);
  if (!payload) Fail("a decoded request does not encode");
  const std::optional<nvlab::ResumeRequest> again = nvlab::DecodeResumeRequest(*payload);
  if (!again || !Same(*decoded, *again)) Fail("a decoded request does not round-trip");
  return 0;
}
