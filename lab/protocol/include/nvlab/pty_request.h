// File: nvlab/pty_request.h
//
// The payloads of the interactive-terminal frames (docs/formats/agent-protocol.md, "Interactive
// terminal"): `nvlab shell` asks the agent for a shell on a pseudo-terminal in the guest
// (kPtyOpen), then sends what the user types (kPtyInput) and each new window size
// (kPtyResize); the agent sends what the terminal shows (kPtyOutput) and, once the shell has
// ended, a kExit.
//
// Payloads (text, decoded strictly: one text per value, so that decoding and encoding again
// gives the same bytes; the agent runs as PID 1 and acts on nothing half-understood):
//   pty-open    "rows=R\ncols=C\nterm=T\n"  R, C: 1..9999 (decimal, no leading zero);
//                                            T: 1..64 bytes of A-Z a-z 0-9 . _ + -
//   pty-resize  "rows=R\ncols=C\n"
// pty-input and pty-output carry raw bytes; an empty pty-input says the host's input ended
// (the agent hangs the terminal up), an empty pty-output is the agent's keep-alive.
//
// Thread-safety: free functions, no state.

#ifndef NVLAB_PTY_REQUEST_H_
#define NVLAB_PTY_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nvlab {

inline constexpr int kMaxPtyDimension = 9999;
inline constexpr size_t kMaxPtyTerm = 64;
// kPtyInputChunk: the host sends input in frames of at most this many bytes.
inline constexpr size_t kPtyInputChunk = 4096;

struct PtyWindowSize {
  int rows = 24;
  int cols = 80;
  bool operator==(const PtyWindowSize&) const = default;
};

struct PtyOpenRequest {
  PtyWindowSize size;
  std::string term = "dumb";
};

// IsValidPtyWindowSize: both dimensions within 1..kMaxPtyDimension.
bool IsValidPtyWindowSize(PtyWindowSize size);
// IsValidPtyTerm: 1..kMaxPtyTerm bytes of A-Z a-z 0-9 . _ + - (every terminfo name).
bool IsValidPtyTerm(std::string_view term);

// Encode* return nullopt when a field is out of range; Decode* when the payload is malformed.
std::optional<std::string> EncodePtyOpen(const PtyOpenRequest& request);
std::optional<PtyOpenRequest> DecodePtyOpen(std::string_view payload);
std::optional<std::string> EncodePtyResize(PtyWindowSize size);
std::optional<PtyWindowSize> DecodePtyResize(std::string_view payload);

}  // namespace nvlab

#endif  // NVLAB_PTY_REQUEST_H_
