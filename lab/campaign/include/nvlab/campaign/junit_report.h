// File: nvlab/campaign/junit_report.h
//
// A campaign report as JUnit XML, the format CI systems show test results in: one <testsuite>
// per test of the campaign (in the order the tests come), one <testcase> per case:
//
//   <testcase classname="CAMPAIGN.TEST" name="MACHINE/PERSISTENCE/ONCUT" time="S">
//
// with <properties><property name="host" value="HOST"/></properties> (the host the case ran
// on, or was to), <failure> (fail), <error> (error) or <skipped> (not run), and the case's output
// tails in <system-out> and <system-err>. Cases of shards missing from a merge are not in the XML
// (the <testsuites> element says how many are missing).
//
// The guest's output is untrusted: text is escaped for XML, invalid UTF-8 becomes U+FFFD and
// characters XML 1.0 forbids (most control characters, U+FFFE, U+FFFF) are dropped, so the
// document is well-formed whatever the guest printed.
//
// Thread-safety: pure functions.

#ifndef NVLAB_CAMPAIGN_JUNIT_REPORT_H_
#define NVLAB_CAMPAIGN_JUNIT_REPORT_H_

#include <string>
#include <string_view>

#include "nvlab/campaign/campaign_report.h"

namespace nvlab::campaign {

// JunitXml renders the report as a JUnit XML document (UTF-8).
std::string JunitXml(const CampaignReport& report);

// XmlText makes bytes safe as XML 1.0 character data or an attribute value: & < > " ' escaped,
// invalid UTF-8 replaced by U+FFFD, forbidden characters dropped. Tabs, newlines and carriage
// returns stay (in attributes as character references, so they survive attribute
// normalization).
std::string XmlText(std::string_view bytes, bool attribute);

}  // namespace nvlab::campaign

#endif  // NVLAB_CAMPAIGN_JUNIT_REPORT_H_
