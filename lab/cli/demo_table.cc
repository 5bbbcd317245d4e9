// demo_table.cc -- the demo's table: reasons per pattern and the row layout.

#include "demo_table.h"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string_view>

namespace nvlab {
namespace {

// PatternReasons explains one nvlab-records pattern: why on ADR, why on eADR, and the one
// reason that covers both when they keep the record alike (empty when they do not).
struct PatternReasons {
  const char* adr;
  const char* eadr;
  const char* both;
};

const PatternReasons* FindReasons(const std::string& pattern) {
  static const std::map<std::string, PatternReasons, std::less<>> kReasons = {
      {"noflush",
       {"never flushed, lost with the CPU caches", "the caches are flushed at power loss", ""}},
      {"flush-nodrain",
       {"CLWB with no fence: the write-back never completed",
        "still in the cache, which is in the domain", ""}},
      {"flush-drain", {"", "", "flushed (CLWB) and drained (SFENCE)"}},
      {"flushranges", {"", "", "RtlFlushNonVolatileMemoryRanges, then drained"}},
      {"write-persist", {"", "", "written with WRITE_NV_MEMORY_FLAG_PERSIST"}},
      {"write-nt-nodrain",
       {"", "", "non-temporal stores with no fence: the WC buffer is outside either domain"}},
      {"write-nt", {"", "", "non-temporal stores, then a fence"}},
      {"fill-flush", {"", "", "RtlFillNonVolatileMemory with FILL_NV_MEMORY_FLAG_FLUSH"}},
      {"fill-persist", {"", "", "RtlFillNonVolatileMemory with FILL_NV_MEMORY_FLAG_PERSIST"}},
      {"plain-store-clwb-sfence", {"", "", "store, CLWB, SFENCE"}},
      {"plain-store-clflushopt", {"", "", "store, CLFLUSHOPT, SFENCE"}},
      {"plain-store-clflush", {"", "", "store, CLFLUSH (ordered with stores: no fence needed)"}},
  };
  const auto it = kReasons.find(pattern);
  return it == kReasons.end() ? nullptr : &it->second;
}

constexpr std::string_view kGreen = "\033[32m";
constexpr std::string_view kRed = "\033[31m";
constexpr std::string_view kBold = "\033[1m";
constexpr std::string_view kReset = "\033[0m";

// Cell pads text to width (at least one space after it), then colours it, so escape sequences
// never shift the columns.
std::string Cell(std::string_view text, size_t width, std::string_view colour) {
  std::string padded(text);
  padded.append(padded.size() < width ? width - padded.size() : 1, ' ');
  if (colour.empty()) return padded;
  // Colour the word only, not its padding.
  return std::string(colour) + std::string(text) + std::string(kReset) + padded.substr(text.size());
}

std::string Verdict(std::optional<bool> survived, bool colour) {
  if (!survived) return Cell("?", 6, "");
  return Cell(*survived ? "yes" : "no", 6, colour ? (*survived ? kGreen : kRed) : "");
}

constexpr size_t kPatternWidth = 25;

}  // namespace

std::string DemoReason(const DemoRow& row) {
  const PatternReasons* r = FindReasons(row.pattern);
  if (r == nullptr) return "";
  const bool agree = row.eadr.has_value() && *row.eadr == row.adr;
  if (agree && *r->both != '\0') return r->both;
  // The platforms disagree (or, with the model off or an interrupt's fences, agree where the
  // model would not): give each platform its own reason.
  const std::string adr = *r->adr != '\0' ? r->adr : r->both;
  const std::string eadr = *r->eadr != '\0' ? r->eadr : r->both;
  return "ADR: " + adr + "; eADR: " + eadr;
}

std::string FormatDemoTable(const std::vector<DemoRow>& rows, bool colour) {
  std::string out;
  const std::string header =
      Cell("pattern", kPatternWidth + 1, "") + Cell("ADR", 6, "") + Cell("eADR", 6, "") + "why";
  if (colour) {
    out += std::string(kBold) + header + std::string(kReset) + "\n";
  } else {
    out += header + "\n";
  }
  for (const DemoRow& row : rows) {
    out += Cell(row.pattern, kPatternWidth + 1, "");
    out += Verdict(row.adr, colour);
    out += Verdict(row.eadr, colour);
    out += DemoReason(row);
    out += "\n";
  }
  return out;
}

bool DemoWantsColour() {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour != nullptr && *no_colour != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term == nullptr || std::string_view(term) == "dumb") return false;
  return isatty(STDOUT_FILENO) == 1;
}

}  // namespace nvlab
