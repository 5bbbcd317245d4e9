// File: nvlab/exploration/exploration_report.h
//
// What `nvlab explore` prints and writes about an exploration (docs/formats/explore-report.md):
//
//   ExplorationSummaryLine  the last stderr line, which scripts read (docs/design/interfaces.md):
//       explored N crash states (D distinct, P pruned) at C crash points in T s: F failed
//     N: the states covered (checked or pruned), D: the check's runs (distinct images), P: the
//     states pruned, C: crash points, T: seconds, F: the failing states (checked or pruned).
//   ExplorationText         a paragraph per failure: crash point, lines in and out, the store
//                           that did not persist (PC, process), the check's output, the replay
//   ExplorationJson         the whole result (schema nvlab-explore/1)
//   ExplorationJunit        JUnit XML: one testcase per crash point, failing ones with <failure>
//
// Text from the guest (the check's output, process names) is untrusted: escaped in text, JSON
// strings and XML alike.
//
// Thread-safety: pure functions.

#ifndef NVLAB_EXPLORATION_EXPLORATION_REPORT_H_
#define NVLAB_EXPLORATION_EXPLORATION_REPORT_H_

#include <string>

#include <nlohmann/json.hpp>

#include "nvlab/exploration/exploration.h"

namespace nvlab {

std::string ExplorationSummaryLine(const ExplorationResult& result);

// ExplorationText: one block per listed failure, each line starting with "nvlab: ".
std::string ExplorationText(const ExplorationResult& result);

nlohmann::json ExplorationJson(const ExplorationResult& result);

std::string ExplorationJunit(const ExplorationResult& result);

// ReplayCommand is the one-line command that reproduces a kept failure.
std::string ReplayCommand(const ExplorationFailure& failure, const std::string& check);

}  // namespace nvlab

#endif  // NVLAB_EXPLORATION_EXPLORATION_REPORT_H_
