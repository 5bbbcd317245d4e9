// pty_request.cc -- the pty-open and pty-resize payloads: strict text, one text per value.

#include "nvlab/pty_request.h"

namespace nvlab {
namespace {

// TakeLine removes "KEY=VALUE\n" with the given key from the front of *text and returns VALUE;
// nullopt when the front is anything else.
std::optional<std::string_view> TakeLine(std::string_view* text, std::string_view key) {
  if (!text->starts_with(key) || text->size() <= key.size() || (*text)[key.size()] != '=') {
    return std::nullopt;
  }
  const size_t end = text->find('\n');
  if (end == std::string_view::npos) return std::nullopt;
  const std::string_view value = text->substr(key.size() + 1, end - key.size() - 1);
  text->remove_prefix(end + 1);
  return value;
}

// ParseDimension reads 1..kMaxPtyDimension, decimal digits without a leading zero.
std::optional<int> ParseDimension(std::optional<std::string_view> text) {
  if (!text || text->empty() || text->size() > 4 || text->front() == '0') return std::nullopt;
  int value = 0;
  for (const char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<PtyWindowSize> TakeSize(std::string_view* text) {
  const auto rows = ParseDimension(TakeLine(text, "rows"));
  if (!rows) return std::nullopt;
  const auto cols = ParseDimension(TakeLine(text, "cols"));
  if (!cols) return std::nullopt;
  return PtyWindowSize{*rows, *cols};
}

std::string SizeLines(PtyWindowSize size) {
  return "rows=" + std::to_string(size.rows) + "\ncols=" + std::to_string(size.cols) + "\n";
}

}  // namespace

bool IsValidPtyWindowSize(PtyWindowSize size) {
  return size.rows >= 1 && size.rows <= kMaxPtyDimension && size.cols >= 1 &&
         size.cols <= kMaxPtyDimension;
}

bool IsValidPtyTerm(std::string_view term) {
  if (term.empty() || term.size() > kMaxPtyTerm) return false;
  for (const char c : term) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> EncodePtyOpen(const PtyOpenRequest& request) {
  if (!IsValidPtyWindowSize(request.size) || !IsValidPtyTerm(request.term)) return std::nullopt;
  return SizeLines(request.size) + "term=" + request.term + "\n";
}

std::optional<PtyOpenRequest> DecodePtyOpen(std::string_view payload) {
  PtyOpenRequest request;
  const auto size = TakeSize(&payload);
  if (!size) return std::nullopt;
  const auto term = TakeLine(&payload, "term");
  if (!term || !IsValidPtyTerm(*term) || !payload.empty()) return std::nullopt;
  request.size = *size;
  request.term = std::string(*term);
  return request;
}

std::optional<std::string> EncodePtyResize(PtyWindowSize size) {
  if (!IsValidPtyWindowSize(size)) return std::nullopt;
  return SizeLines(size);
}

std::optional<PtyWindowSize> DecodePtyResize(std::string_view payload) {
  const auto size = TakeSize(&payload);
  if (!size || !payload.empty()) return std::nullopt;
  return size;
}

}  // namespace nvlab
