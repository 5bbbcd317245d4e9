// File: nvlab/resume_request.h
//
// A ResumeRequest is what the host sends (frame kResume) to an agent that init started at the
// template stage: the kernel is up, the agent listens, no NVDIMM is touched yet. It is sent once
// per boot, after a cold boot reached that point or after a warm start restored a guest saved
// there (docs/design/warm-starts.md). The agent then:
//
//   1. mixes `seed` into the kernel's RNG and forces a reseed, so that a guest restored from a
//      shared template draws its own random numbers (namespace UUIDs, ASLR, stack canaries);
//   2. sets CLOCK_REALTIME to `realtime` when given (a restored guest's clock still reads the
//      time the template was saved at; --deterministic leaves the guest's own virtual clock);
//   3. sets the NVDIMMs up with the NVDIMM settings (namespace mode, file system, how
//      many NVDIMMs, whether to mount the host share, which NVDIMMs are blank), and
//   4. answers with a hello carrying `request=<nonce>` and NVLAB_PMEM, or with an error frame.
//
// Payload: "KEY=VALUE\n" lines, every key once, in any order:
//   request=<nonce>        as a hello-request's nonce (IsValidHelloNonce)
//   seed=<64 hex digits>   32 bytes
//   realtime=<S>.<NNNNNNNNN>  optional: seconds since the epoch (at most 18 digits), nine
//                          digits of nanoseconds
//   ns=devdax|fsdax|raw    fs=ext4|xfs    nvdimms=<1..64>    share=0|1
//   blank=0x<hex>,...      optional: the guest-physical start of each NVDIMM the host found
//                          blank (no label area, the first 8 KiB of its file zero: no claim's
//                          info block), at most `nvdimms`, strictly ascending, lowercase hex
//                          of at most 16 digits. The agent gives such an NVDIMM's namespace its
//                          claim without first probing it raw (docs/design/nvdimm-setup.md).
// Decoding is strict (unknown or repeated keys, a missing key, a value out of range: nullopt):
// the agent runs as PID 1 and must not act on a half-understood request.
//
// Thread-safety: free functions, no state.

#ifndef NVLAB_RESUME_REQUEST_H_
#define NVLAB_RESUME_REQUEST_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nvlab {

struct ResumeRequest {
  std::string nonce;
  std::array<uint8_t, 32> seed{};
  bool has_realtime = false;
  int64_t realtime_seconds = 0;      // 0..kMaxResumeRealtimeSeconds
  int32_t realtime_nanoseconds = 0;  // 0..999999999
  std::string ns = "devdax";
  std::string fs = "ext4";
  int nvdimms = 1;
  bool share = false;
  std::vector<uint64_t> blank;  // guest-physical starts of the blank NVDIMMs, ascending
};

inline constexpr int kMaxResumeNvdimms = 64;
// The decoder reads at most 18 digits of seconds (no overflow to check): the encoder refuses more.
inline constexpr int64_t kMaxResumeRealtimeSeconds = 999'999'999'999'999'999;

// EncodeResumeRequest returns the kResume payload, or nullopt when a field is out of range (the
// same checks DecodeResumeRequest makes).
std::optional<std::string> EncodeResumeRequest(const ResumeRequest& request);

// DecodeResumeRequest parses a kResume payload; nullopt when malformed.
std::optional<ResumeRequest> DecodeResumeRequest(std::string_view payload);

}  // namespace nvlab

#endif  // NVLAB_RESUME_REQUEST_H_
