// File: nvlab/exploration/exploration_html.h
//
// ExplorationHtml renders an exploration as one static HTML page (`nvlab explore --html OUT`):
// the summary, then per failing state a section with its crash point, the lines it pinned (in
// or out), the check's output, the replay command, and a timeline of the recorded stores,
// flushes and fences before the crash point that touched those lines, one row per event, the
// writes that did not persist highlighted. No script, no external resource: the page renders
// the same from a CI artifact store, a file URL or a mail attachment.
//
// Everything from the guest (the check's output, process names) is escaped for HTML after the
// lab's escaping of untrusted text.
//
// Thread-safety: a pure function.

#ifndef NVLAB_EXPLORATION_EXPLORATION_HTML_H_
#define NVLAB_EXPLORATION_EXPLORATION_HTML_H_

#include <string>
#include <string_view>

#include "nvlab/exploration/exploration.h"

namespace nvlab {

std::string ExplorationHtml(const ExplorationResult& result);

// HtmlText escapes & < > " ' for HTML text and attribute values.
std::string HtmlText(std::string_view text);

}  // namespace nvlab

#endif  // NVLAB_EXPLORATION_EXPLORATION_HTML_H_
