// junit_report_test.cc -- the JUnit XML report: its structure, and well-formed (libxml2 reads
// it) whatever the guest printed.

#include "nvlab/campaign/junit_report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "xml_check.h"

namespace {

using nvlab::campaign::CampaignReport;
using nvlab::campaign::CaseResult;
using nvlab::campaign::CaseStatus;
using nvlab::testing::ParseXml;
using nvlab::testing::XmlElement;

CaseResult Case(size_t index, const std::string& test, const std::string& persistence,
                CaseStatus status) {
  CaseResult c;
  c.index = index;
  c.test = test;
  c.machine = "default";
  c.persistence = persistence;
  c.on_cut = "random:1:0.5";
  c.id = test + "/default/" + persistence + "/random:1:0.5";
  c.host = "h";
  c.status = status;
  c.seconds = 1.25;
  return c;
}

CampaignReport Report() {
  CampaignReport r;
  r.campaign = "camp";
  r.campaign_sha256 = std::string(64, '0');
  r.cases_total = 4;
  r.shards.push_back({1, 1, "h", "2025-01-01T00:00:00Z", 5});
  r.cases.push_back(Case(0, "a", "adr", CaseStatus::kPass));
  r.cases.push_back(Case(1, "a", "eadr", CaseStatus::kFail));
  r.cases.push_back(Case(2, "b", "adr", CaseStatus::kError));
  r.cases.push_back(Case(3, "b", "eadr", CaseStatus::kNotRun));
  r.cases[1].message = "after exited 1, expected exit 0";
  r.cases[2].message = "the guest did not boot";
  r.cases[3].message = "not run: interrupted";
  r.cases[0].stdout_tail = "out\n";
  r.cases[1].stderr_tail = "err\n";
  return r;
}

std::vector<XmlElement> Parsed(const std::string& xml) {
  std::vector<XmlElement> elements;
  std::string error;
  EXPECT_TRUE(ParseXml(xml, &elements, &error)) << error << "\n" << xml;
  return elements;
}

std::vector<XmlElement> Named(const std::vector<XmlElement>& all, const std::string& name) {
  std::vector<XmlElement> out;
  for (const XmlElement& e : all) {
    if (e.name == name) out.push_back(e);
  }
  return out;
}

TEST(JunitReportTest, OneSuitePerTestOneCasePerCase) {
  const auto all = Parsed(nvlab::campaign::JunitXml(Report()));
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].name, "testsuites");
  EXPECT_EQ(all[0].attributes.at("name"), "camp");
  EXPECT_EQ(all[0].attributes.at("tests"), "4");
  EXPECT_EQ(all[0].attributes.at("failures"), "1");
  EXPECT_EQ(all[0].attributes.at("errors"), "1");
  EXPECT_EQ(all[0].attributes.at("skipped"), "1");
  EXPECT_EQ(all[0].attributes.at("time"), "5.000");
  const auto suites = Named(all, "testsuite");
  ASSERT_EQ(suites.size(), 2u);
  EXPECT_EQ(suites[0].attributes.at("name"), "camp.a");
  EXPECT_EQ(suites[0].attributes.at("tests"), "2");
  EXPECT_EQ(suites[0].attributes.at("failures"), "1");
  EXPECT_EQ(suites[1].attributes.at("name"), "camp.b");
  EXPECT_EQ(suites[1].attributes.at("errors"), "1");
  EXPECT_EQ(suites[1].attributes.at("skipped"), "1");
  const auto cases = Named(all, "testcase");
  ASSERT_EQ(cases.size(), 4u);
  EXPECT_EQ(cases[0].attributes.at("classname"), "camp.a");
  EXPECT_EQ(cases[0].attributes.at("name"), "default/adr/random:1:0.5");
  EXPECT_EQ(cases[0].attributes.at("time"), "1.250");
  EXPECT_EQ(cases[3].attributes.at("classname"), "camp.b");
  EXPECT_EQ(cases[3].attributes.at("name"), "default/eadr/random:1:0.5");
  // Each case says where it ran (or was to), as a property.
  const auto properties = Named(all, "property");
  ASSERT_EQ(properties.size(), 4u);
  for (const XmlElement& p : properties) {
    EXPECT_EQ(p.attributes.at("name"), "host");
    EXPECT_EQ(p.attributes.at("value"), "h");
  }
  const auto failures = Named(all, "failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].attributes.at("message"), "after exited 1, expected exit 0");
  const auto errors = Named(all, "error");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].text, "the guest did not boot");
  const auto skipped = Named(all, "skipped");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].attributes.at("message"), "not run: interrupted");
  EXPECT_EQ(Named(all, "system-out").size(), 1u);
  EXPECT_EQ(Named(all, "system-out")[0].text, "out\n");
  EXPECT_EQ(Named(all, "system-err")[0].text, "err\n");
}

TEST(JunitReportTest, HostileOutputStaysWellFormed) {
  CampaignReport r = Report();
  const char kHostile[] =
      "ctl \x01\x02\x07\x08\x0b\x0c\x1b[2J\x7f nul \0 end"
      " cdata ]]> <![CDATA[ x ]]> tags </system-out><x a='1'> &amp; &#0; &#x1;"
      " quotes \" ' tab\t cr\r lf\n"
      " bad utf8 \xff\xfe \xc0\xaf \xc3\x28 \xe0\x80\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xf8"
      " nonchar \xef\xbf\xbe \xef\xbf\xbf ok \xc3\xa9 \xf0\x9f\x98\x80 cut \xe2\x82";
  const std::string hostile(kHostile, sizeof kHostile - 1);
  for (CaseResult& c : r.cases) {
    c.stdout_tail = hostile;
    c.stderr_tail = hostile;
    c.message = hostile;
  }
  const auto all = Parsed(nvlab::campaign::JunitXml(r));
  const auto outs = Named(all, "system-out");
  ASSERT_EQ(outs.size(), 4u);
  const std::string& text = outs[0].text;
  // What XML cannot carry is gone; what it can is there as it was.
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 || c == '\t' || c == '\n' || c == '\r') << static_cast<int>(u);
  }
  EXPECT_NE(text.find("ctl [2J\x7f nul  end"), std::string::npos) << text;  // DEL is allowed
  EXPECT_NE(text.find("]]> <![CDATA[ x ]]> tags </system-out><x a='1'> &amp; &#0; &#x1;"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("quotes \" ' tab\t cr\r lf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ok \xc3\xa9 \xf0\x9f\x98\x80 cut \xef\xbf\xbd"), std::string::npos) << text;
  EXPECT_EQ(text.find("\xef\xbf\xbe"), std::string::npos);
  EXPECT_EQ(text.find("\xef\xbf\xbf"), std::string::npos);
  // Each ill-formed sequence became replacement characters, never raw bytes.
  EXPECT_NE(text.find("bad utf8 \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd("),
            std::string::npos)
      << text;
  // Attributes keep line breaks and tabs (as character references).
  const auto failures = Named(all, "failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].attributes.at("message").find("tab\t cr\r lf\n"), std::string::npos);
}

TEST(JunitReportTest, XmlTextEscapesMarkupAndDropsForbiddenCharacters) {
  EXPECT_EQ(nvlab::campaign::XmlText("a<b>&c\"d'e", false), "a&lt;b&gt;&amp;c\"d'e");
  EXPECT_EQ(nvlab::campaign::XmlText("a<b>&c\"d'e", true), "a&lt;b&gt;&amp;c&quot;d&apos;e");
  EXPECT_EQ(nvlab::campaign::XmlText("]]>", false), "]]&gt;");
  EXPECT_EQ(nvlab::campaign::XmlText("\t\n\r", false), "\t\n&#13;");
  EXPECT_EQ(nvlab::campaign::XmlText("\t\n\r", true), "&#9;&#10;&#13;");
  EXPECT_EQ(nvlab::campaign::XmlText(std::string("\0\x01\x1f", 3), false), "");
  EXPECT_EQ(nvlab::campaign::XmlText("\xff", false), "\xef\xbf\xbd");
  EXPECT_EQ(nvlab::campaign::XmlText("\xef\xbf\xbe", false), "");
  EXPECT_EQ(nvlab::campaign::XmlText("\xf4\x8f\xbf\xbf", false), "\xf4\x8f\xbf\xbf");
  EXPECT_EQ(nvlab::campaign::XmlText("\xf4\x90\x80\x80", false),
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(nvlab::campaign::XmlText("", false), "");
}

TEST(JunitReportTest, MissingShardsAreCounted) {
  CampaignReport r = Report();
  r.cases_total = 8;
  r.shards[0].of = 2;
  r.missing_shards = {2};
  for (size_t i = 0; i < r.cases.size(); ++i) r.cases[i].index = 2 * i;
  const auto all = Parsed(nvlab::campaign::JunitXml(r));
  EXPECT_EQ(all[0].attributes.at("missing"), "4");
  EXPECT_EQ(Named(all, "testcase").size(), 4u);
}

TEST(JunitReportTest, AnEmptyReportIsAnEmptyTestsuites) {
  CampaignReport r = Report();
  r.cases.clear();
  const auto all = Parsed(nvlab::campaign::JunitXml(r));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].attributes.at("tests"), "0");
}

}  // namespace
