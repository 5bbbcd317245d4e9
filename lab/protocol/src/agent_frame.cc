// agent_frame.cc -- the agent wire format: EncodeFrame, FrameDecoder, Exec/Exit payloads.

#include "nvlab/agent_frame.h"

#include <charconv>

namespace nvlab {
namespace {

bool KnownType(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
    case FrameType::kStdout:
    case FrameType::kStderr:
    case FrameType::kExit:
    case FrameType::kError:
    case FrameType::kExec:
    case FrameType::kPowerOff:
    case FrameType::kResume:
    case FrameType::kHelloRequest:
    case FrameType::kExecRecorded:
    case FrameType::kDetachNvdimms:
    case FrameType::kAttachNvdimms:
    case FrameType::kPtyOutput:
    case FrameType::kPtyOpen:
    case FrameType::kPtyInput:
    case FrameType::kPtyResize:
      return true;
  }
  return false;
}

}  // namespace

std::string EncodeFrame(FrameType type, std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderSize + payload.size());
  const auto len = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(kAgentProtocolVersion));
  out.push_back('\0');
  out.push_back('\0');
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out.append(payload);
  return out;
}

std::optional<std::string> EncodeExec(const std::vector<std::string>& argv) {
  if (argv.empty()) return std::nullopt;
  std::string out;
  for (const std::string& arg : argv) {
    if (arg.find('\0') != std::string::npos) return std::nullopt;
    out += arg;
    out.push_back('\0');
  }
  if (out.size() > kMaxFramePayload) return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> DecodeExec(std::string_view payload) {
  if (payload.empty() || payload.back() != '\0') return std::nullopt;
  std::vector<std::string> argv;
  size_t pos = 0;
  while (pos < payload.size()) {
    const size_t end = payload.find('\0', pos);
    argv.emplace_back(payload.substr(pos, end - pos));
    pos = end + 1;
  }
  if (argv.empty() || argv[0].empty()) return std::nullopt;
  return argv;
}

bool IsValidHelloNonce(std::string_view nonce) {
  if (nonce.empty() || nonce.size() > kMaxHelloNonce) return false;
  for (const char c : nonce) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::optional<std::string> EncodeHelloRequest(std::string_view nonce) {
  if (!IsValidHelloNonce(nonce)) return std::nullopt;
  return std::string(nonce);
}

std::optional<std::string> DecodeHelloRequest(std::string_view payload) {
  if (!IsValidHelloNonce(payload)) return std::nullopt;
  return std::string(payload);
}

std::string HelloRequestLine(std::string_view nonce) {
  return std::string(kHelloRequestKey) + "=" + std::string(nonce) + "\n";
}

std::string EncodeExit(CommandStatus status) {
  return (status.signaled ? "signal " : "exit ") + std::to_string(status.value) + "\n";
}

std::optional<CommandStatus> DecodeExit(std::string_view payload) {
  CommandStatus status;
  std::string_view rest;
  if (payload.starts_with("exit ")) {
    rest = payload.substr(5);
  } else if (payload.starts_with("signal ")) {
    status.signaled = true;
    rest = payload.substr(7);
  } else {
    return std::nullopt;
  }
  if (rest.size() < 2 || rest.size() > 4 || rest.back() != '\n') return std::nullopt;
  rest.remove_suffix(1);
  // Decimal as EncodeExit writes it: digits only (from_chars would take a '-'), no leading zero.
  for (const char c : rest) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  if (rest.size() > 1 && rest.front() == '0') return std::nullopt;
  int value = -1;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc() || ptr != rest.data() + rest.size()) return std::nullopt;
  if (status.signaled ? (value < 1 || value > 64) : (value < 0 || value > 255)) {
    return std::nullopt;
  }
  status.value = value;
  return status;
}

void FrameDecoder::Feed(std::string_view bytes) {
  if (failed()) return;
  // Drop consumed bytes before growing, so the buffer stays within one frame plus a read.
  if (start_ > 0) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<Frame> FrameDecoder::Next() {
  if (failed() || buffered() < kFrameHeaderSize) return std::nullopt;
  const auto* h = reinterpret_cast<const unsigned char*>(buffer_.data() + start_);
  if (!KnownType(h[0])) {
    error_ = "unknown frame type " + std::to_string(h[0]);
    return std::nullopt;
  }
  if (h[1] != kAgentProtocolVersion) {
    error_ = "unsupported protocol version " + std::to_string(h[1]);
    return std::nullopt;
  }
  if (h[2] != 0 || h[3] != 0) {
    error_ = "non-zero reserved header bytes";
    return std::nullopt;
  }
  const uint32_t len = static_cast<uint32_t>(h[4]) | (static_cast<uint32_t>(h[5]) << 8) |
                       (static_cast<uint32_t>(h[6]) << 16) | (static_cast<uint32_t>(h[7]) << 24);
  if (len > kMaxFramePayload) {
    error_ = "frame payload of " + std::to_string(len) + " bytes exceeds the limit of " +
             std::to_string(kMaxFramePayload);
    return std::nullopt;
  }
  if (buffered() < kFrameHeaderSize + len) return std::nullopt;
  Frame frame{static_cast<FrameType>(h[0]), buffer_.substr(start_ + kFrameHeaderSize, len)};
  start_ += kFrameHeaderSize + len;
  return frame;
}

}  // namespace nvlab
