// cut_policy.cc -- ParsePlatform, PlatformName, ParseCutPolicy, CutPolicyKindName.
#include "nvlab/model/cut_policy.h"

#include <charconv>
#include <cstdlib>
#include <system_error>

namespace nvlab::model {
namespace {

// ParseU64 -- (internal) the whole of text as a decimal or 0x-hex number. A leading zero is a
// decimal digit, never octal: "010" is ten.
bool ParseU64(std::string_view text, uint64_t* out) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty()) return false;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  *out = value;
  return true;
}

// ParseProbability -- (internal) the whole of text as a number in [0, 1].
bool ParseProbability(std::string_view text, double* out) {
  if (text.empty() || text.size() > 32) return false;
  for (char c : text) {
    if ((c < '0' || c > '9') && c != '.') return false;  // No exponents, signs, nan or inf.
  }
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !(value >= 0.0 && value <= 1.0)) return false;
  *out = value;
  return true;
}

}  // namespace

ModelStatus ParsePlatform(std::string_view text, Platform* out) {
  if (text == "adr") {
    *out = Platform::kAdr;
  } else if (text == "eadr") {
    *out = Platform::kEadr;
  } else {
    return ModelStatus::kInvalidArgument;
  }
  return ModelStatus::kOk;
}

const char* PlatformName(Platform platform) {
  return platform == Platform::kAdr ? "adr" : "eadr";
}

ModelStatus ParseCutPolicy(std::string_view text, CutPolicy* out, std::string* error) {
  if (text == "lose") {
    *out = CutPolicy::Lose();
    return ModelStatus::kOk;
  }
  if (text == "keep") {
    *out = CutPolicy::Keep();
    return ModelStatus::kOk;
  }
  constexpr std::string_view kRandom = "random:";
  if (text.substr(0, kRandom.size()) != kRandom) {
    if (error) *error = "expected lose, keep or random:SEED[:P], got '" + std::string(text) + "'";
    return ModelStatus::kInvalidArgument;
  }
  std::string_view rest = text.substr(kRandom.size());
  std::string_view seed_text = rest;
  std::string_view p_text;
  if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
    seed_text = rest.substr(0, colon);
    p_text = rest.substr(colon + 1);
  }
  CutPolicy policy = CutPolicy::Random(0, 0.5);
  if (!ParseU64(seed_text, &policy.seed)) {
    if (error)
      *error = "random: SEED must be an unsigned number, got '" + std::string(seed_text) + "'";
    return ModelStatus::kInvalidArgument;
  }
  if (rest.find(':') != std::string_view::npos && !ParseProbability(p_text, &policy.p)) {
    if (error) *error = "random: P must be a number in [0, 1], got '" + std::string(p_text) + "'";
    return ModelStatus::kInvalidArgument;
  }
  *out = policy;
  return ModelStatus::kOk;
}

const char* CutPolicyKindName(CutPolicy::Kind kind) {
  switch (kind) {
    case CutPolicy::Kind::kLose:
      return "lose";
    case CutPolicy::Kind::kKeep:
      return "keep";
    case CutPolicy::Kind::kRandom:
      return "random";
  }
  return "unknown";
}

}  // namespace nvlab::model
