// resume_request.cc -- the kResume payload, encoded and strictly decoded.

#include "nvlab/resume_request.h"

#include <charconv>
#include <map>

#include "nvlab/agent_frame.h"
#include "nvlab/hex.h"

namespace nvlab {
namespace {

bool Valid(const ResumeRequest& r) {
  if (!IsValidHelloNonce(r.nonce)) return false;
  if (r.has_realtime && (r.realtime_seconds < 0 || r.realtime_seconds > kMaxResumeRealtimeSeconds ||
                         r.realtime_nanoseconds < 0 || r.realtime_nanoseconds > 999999999)) {
    return false;
  }
  if (r.ns != "devdax" && r.ns != "fsdax" && r.ns != "raw") return false;
  if (r.fs != "ext4" && r.fs != "xfs") return false;
  if (r.nvdimms < 1 || r.nvdimms > kMaxResumeNvdimms) return false;
  if (r.blank.size() > static_cast<size_t>(r.nvdimms)) return false;
  for (size_t i = 1; i < r.blank.size(); ++i) {
    if (r.blank[i] <= r.blank[i - 1]) return false;
  }
  return true;
}

// ParseDigits parses a non-empty run of decimal digits (no sign, at most 18: no overflow).
bool ParseDigits(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// ParseAddress parses FormatHex's form only: "0x" and 1 to 16 lowercase hex digits
// (ParseHexDigits takes upper case too).
bool ParseAddress(std::string_view text, uint64_t* out) {
  return text.starts_with("0x") && text.find_first_of("ABCDEF") == std::string_view::npos &&
         ParseHexDigits(text.substr(2), out);
}

// ParseAddressList parses ParseAddress values separated by commas (no empty item).
bool ParseAddressList(std::string_view text, std::vector<uint64_t>* out) {
  while (true) {
    const size_t comma = text.find(',');
    uint64_t address = 0;
    if (!ParseAddress(text.substr(0, comma), &address)) return false;
    out->push_back(address);
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace

std::optional<std::string> EncodeResumeRequest(const ResumeRequest& r) {
  if (!Valid(r)) return std::nullopt;
  const std::string seed =
      HexDigits(std::string_view(reinterpret_cast<const char*>(r.seed.data()), r.seed.size()));
  std::string out = "request=" + r.nonce + "\nseed=" + seed + "\n";
  if (r.has_realtime) {
    std::string ns = std::to_string(r.realtime_nanoseconds);
    ns.insert(0, 9 - ns.size(), '0');
    out += "realtime=" + std::to_string(r.realtime_seconds) + "." + ns + "\n";
  }
  out += "ns=" + r.ns + "\nfs=" + r.fs + "\nnvdimms=" + std::to_string(r.nvdimms) +
         "\nshare=" + (r.share ? "1" : "0") + "\n";
  if (!r.blank.empty()) {
    out += "blank=";
    for (size_t i = 0; i < r.blank.size(); ++i) out += (i > 0 ? "," : "") + FormatHex(r.blank[i]);
    out += "\n";
  }
  return out;
}

std::optional<ResumeRequest> DecodeResumeRequest(std::string_view payload) {
  std::map<std::string, std::string, std::less<>> values;
  while (!payload.empty()) {
    const size_t end = payload.find('\n');
    if (end == std::string_view::npos) return std::nullopt;  // every line ends with \n
    const std::string_view line = payload.substr(0, end);
    payload.remove_prefix(end + 1);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    if (!values.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1))).second) {
      return std::nullopt;
    }
  }
  ResumeRequest r;
  size_t used = 0;
  auto take = [&](std::string_view key, std::string* out) {
    auto it = values.find(key);
    if (it == values.end()) return false;
    *out = it->second;
    ++used;
    return true;
  };
  std::string seed, realtime, nvdimms, share, blank;
  if (!take("request", &r.nonce) || !take("seed", &seed) || !take("ns", &r.ns) ||
      !take("fs", &r.fs) || !take("nvdimms", &nvdimms) || !take("share", &share)) {
    return std::nullopt;
  }
  // HexDigits' form only: 64 lowercase digits (ParseHexDigits takes upper case too).
  if (seed.size() != 2 * r.seed.size() ||
      seed.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return std::nullopt;
  }
  for (size_t i = 0; i < r.seed.size(); ++i) {
    uint64_t byte = 0;
    if (!ParseHexDigits(std::string_view(seed).substr(2 * i, 2), &byte)) return std::nullopt;
    r.seed[i] = static_cast<uint8_t>(byte);
  }
  if (take("realtime", &realtime)) {
    const size_t dot = realtime.find('.');
    int64_t seconds = 0, nanoseconds = 0;
    if (dot == std::string::npos || realtime.size() - dot - 1 != 9 ||
        !ParseDigits(std::string_view(realtime).substr(0, dot), &seconds) ||
        !ParseDigits(std::string_view(realtime).substr(dot + 1), &nanoseconds)) {
      return std::nullopt;
    }
    r.has_realtime = true;
    r.realtime_seconds = seconds;
    r.realtime_nanoseconds = static_cast<int32_t>(nanoseconds);
  }
  int64_t count = 0;
  if (!ParseDigits(nvdimms, &count) || count > kMaxResumeNvdimms) return std::nullopt;
  r.nvdimms = static_cast<int>(count);
  if (share != "0" && share != "1") return std::nullopt;
  r.share = share == "1";
  if (take("blank", &blank) && !ParseAddressList(blank, &r.blank)) return std::nullopt;
  if (used != values.size()) return std::nullopt;  // an unknown key
  if (!Valid(r)) return std::nullopt;
  return r;
}

}  // namespace nvlab
