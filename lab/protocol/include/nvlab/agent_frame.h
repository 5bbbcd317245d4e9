// File: nvlab/agent_frame.h
//
// The wire format between the host and nvlab-agent, the guest's command runner, over a
// virtio-serial port named "org.nvlab.agent" (docs/formats/agent-protocol.md is the full
// specification). A byte stream carries frames:
//
//   offset 0  u8   type     (FrameType)
//   offset 1  u8   version  (kAgentProtocolVersion)
//   offset 2  u16  reserved (0)
//   offset 4  u32  length   (little endian, payload bytes, at most kMaxFramePayload)
//   offset 8  payload
//
// The host treats everything the guest sends as untrusted: FrameDecoder rejects an unknown type
// or version, non-zero reserved bytes and over-long payloads, and never buffers more than one
// frame. Both sides link this file (the agent statically), so it has no dependencies beyond the
// C++ standard library.
//
// Thread-safety: FrameDecoder is not thread-safe; the free functions are.

#ifndef NVLAB_AGENT_FRAME_H_
#define NVLAB_AGENT_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nvlab {

inline constexpr uint8_t kAgentProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 8;
inline constexpr uint32_t kMaxFramePayload = 64 * 1024;
// The virtio-serial port name the agent looks for in /sys/class/virtio-ports/*/name.
inline constexpr std::string_view kAgentPortName = "org.nvlab.agent";

enum class FrameType : uint8_t {
  // guest -> host
  kHello = 1,   // payload: "KEY=VALUE\n" lines (agent version, NVLAB_PMEM, kernel release).
  kStdout = 2,  // payload: bytes the command wrote to stdout.
  kStderr = 3,  // payload: bytes the command wrote to stderr.
  kExit = 4,    // payload: "exit N\n" or "signal N\n" (text, parsed strictly).
  kError = 5,   // payload: one line of text: the agent could not run the request.
  // payload: bytes the guest's terminal showed (an interactive shell's, after kPtyOpen); empty:
  // a keep-alive.
  kPtyOutput = 6,
  // host -> guest
  kExec = 16,      // payload: argv as NUL-terminated strings (at least one).
  kPowerOff = 17,  // payload empty: sync file systems and power off.
  // payload: a nonce (IsValidHelloNonce). The agent answers with a kHello whose payload ends
  // with the line "request=<nonce>" (HelloRequestLine), so a host that connects to an agent that
  // booted long ago can tell its answer from a boot-time hello still queued in the port.
  kHelloRequest = 18,
  // payload: ResumeRequest (nvlab/resume_request.h). Valid once, to an agent that init started
  // at the template stage (before the NVDIMMs): the agent reseeds the guest's RNG, sets its
  // clock, sets the NVDIMMs up, and answers with a kHello carrying the request's nonce (or a
  // kError).
  kResume = 19,
  // Crash-state exploration (docs/design/exploration.md):
  // payload as kExec. Runs argv between the recording marks (nvrtl/nvlab_recording_marker.h):
  // the agent executes the begin mark just before the command starts and the end mark once it
  // has ended, so a recording holds the command's NVDIMM writes and nothing around them.
  kExecRecorded = 20,
  // payload empty. The host is about to change, or has changed, the NVDIMMs' contents under the
  // guest: kDetachNvdimms unmounts the file systems on them and drops the kernel's cached
  // blocks of their block devices; kAttachNvdimms mounts them again (-o dax). The agent answers
  // each with kExit "exit 0", or kError with the reason (a mount that fails on a crash state).
  kDetachNvdimms = 21,
  kAttachNvdimms = 22,
  // An interactive shell on a pseudo-terminal (nvlab shell; nvlab/pty_request.h has the
  // payloads). kPtyOpen starts it; until the agent's kExit (the shell's status) or kError, the
  // host sends kPtyInput (raw bytes typed; empty: the host's input ended) and kPtyResize (a new
  // window size), and the agent sends kPtyOutput.
  kPtyOpen = 23,
  kPtyInput = 24,
  kPtyResize = 25,
};

// A hello-request nonce is 1 to kMaxHelloNonce printable ASCII bytes (0x20-0x7e).
inline constexpr size_t kMaxHelloNonce = 64;
// The key of the hello line that answers a hello-request.
inline constexpr std::string_view kHelloRequestKey = "request";

struct Frame {
  FrameType type;
  std::string payload;
};

// EncodeFrame returns the bytes of one frame. payload.size() must be <= kMaxFramePayload.
std::string EncodeFrame(FrameType type, std::string_view payload);

// EncodeExec returns an kExec payload for argv, or nullopt when argv is empty, an argument holds
// a NUL byte, or the whole does not fit in one frame.
std::optional<std::string> EncodeExec(const std::vector<std::string>& argv);

// DecodeExec parses an kExec payload into argv; nullopt when malformed.
std::optional<std::vector<std::string>> DecodeExec(std::string_view payload);

// IsValidHelloNonce says whether nonce may travel in a kHelloRequest.
bool IsValidHelloNonce(std::string_view nonce);

// EncodeHelloRequest returns the kHelloRequest payload for nonce, or nullopt when the nonce is
// not valid.
std::optional<std::string> EncodeHelloRequest(std::string_view nonce);

// DecodeHelloRequest returns the nonce of a kHelloRequest payload; nullopt when it is not a
// valid nonce (empty, too long, a byte outside 0x20-0x7e).
std::optional<std::string> DecodeHelloRequest(std::string_view payload);

// HelloRequestLine is the line the agent appends to its hello to answer a hello-request:
// "request=<nonce>\n". The nonce must be valid (DecodeHelloRequest made it).
std::string HelloRequestLine(std::string_view nonce);

// CommandStatus is how a command ended: exited with a code, or killed by a signal.
struct CommandStatus {
  bool signaled = false;
  int value = 0;  // exit code (0..255) or signal number (1..64)
  // ShellStatus is the status a shell would report: the code, or 128 + signal.
  int ShellStatus() const { return signaled ? 128 + value : value; }
};

std::string EncodeExit(CommandStatus status);
// DecodeExit parses "exit N\n" / "signal N\n" with N in range; nullopt otherwise.
std::optional<CommandStatus> DecodeExit(std::string_view payload);

// FrameDecoder turns a byte stream into frames.
class FrameDecoder {
 public:
  // Feed appends bytes. After a malformed header the decoder stays failed: error() says why and
  // Next() returns nothing more.
  void Feed(std::string_view bytes);
  // Next returns the next complete frame, or nullopt when more bytes are needed (or failed).
  std::optional<Frame> Next();
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // buffered is how many bytes wait for the rest of their frame.
  size_t buffered() const { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  size_t start_ = 0;
  std::string error_;
};

}  // namespace nvlab

#endif  // NVLAB_AGENT_FRAME_H_
