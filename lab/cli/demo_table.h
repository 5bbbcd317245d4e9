// demo_table.h -- the table `nvlab demo` prints: one row per nvlab-records pattern, whether its
// record survived the cut on ADR and on eADR, and one reason. The reason is split by platform
// only on rows where the two platforms disagree, so the table reads at a glance.
//
// Pure formatting: no I/O, no guest. Colour (ANSI) only when the caller asks for it, which
// `nvlab demo` does only when stdout is a terminal (DemoWantsColour).

#ifndef NVLAB_CLI_DEMO_TABLE_H_
#define NVLAB_CLI_DEMO_TABLE_H_

#include <optional>
#include <string>
#include <vector>

namespace nvlab {

// DemoRow is one pattern's outcome. eadr is empty when the eADR check did not report the
// pattern (printed as "?").
struct DemoRow {
  std::string pattern;
  bool adr = false;
  std::optional<bool> eadr;
};

// FormatDemoTable returns the header line and one line per row, each ending in '\n'. Columns:
// pattern, ADR, eADR (yes/no), why. With colour, "yes" is green, "no" red and the header bold;
// the columns line up either way.
std::string FormatDemoTable(const std::vector<DemoRow>& rows, bool colour);

// DemoReason is the reason printed for a row: the shared reason when both platforms agree and
// one is known, else "ADR: ...; eADR: ..." (empty for an unknown pattern).
std::string DemoReason(const DemoRow& row);

// DemoWantsColour says whether stdout should get colour: a terminal, NO_COLOR unset or empty,
// and TERM set and not "dumb".
bool DemoWantsColour();

}  // namespace nvlab

#endif  // NVLAB_CLI_DEMO_TABLE_H_
