// ci_recipe_test.cc -- the CI recipe in docs/ci: both files are YAML with the keys GitHub and
// GitLab require, ci/run-recipe reads the steps exactly as a YAML parser does (PyYAML is the
// reference), the GitLab job runs the same commands as the GitHub one, and the GitHub campaign
// job's `run:` blocks, run here by ci/run-recipe with the package the fixture DebPackage.Build
// made, install nvlab, run the campaign and leave a JUnit report that parses.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "command_run.h"
#include "file_text.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandRun;
using testing::DescribeRun;
using testing::FileText;
using testing::RunCommand;

const fs::path kSource = NVLAB_SOURCE_DIR;
const fs::path kGitHub = kSource / "docs/ci/github-actions.yml";
const fs::path kGitLab = kSource / "docs/ci/gitlab-ci.yml";
const fs::path kRunRecipe = kSource / "ci/run-recipe";

// LoadYaml parses file with PyYAML (safe_load) and returns it as JSON (YAML 1.1 reads GitHub's
// `on:` key as the boolean true; JSON then names it "true").
json LoadYaml(const fs::path& file) {
  const CommandRun run =
      RunCommand({"python3", "-c",
                  "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
                  file.string()});
  EXPECT_EQ(run.exit_status, 0) << file << ": " << DescribeRun(run);
  if (run.exit_status != 0) return json();
  return json::parse(run.out, nullptr, /*allow_exceptions=*/false);
}

class CiRecipe : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/nvlab-recipe-test-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    scratch_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    if (!scratch_.empty()) fs::remove_all(scratch_, ec);
  }
  fs::path scratch_;
};

TEST_F(CiRecipe, TheWorkflowIsYamlWithTheKeysGitHubRequires) {
  const json workflow = LoadYaml(kGitHub);
  ASSERT_TRUE(workflow.is_object());
  EXPECT_TRUE(workflow.contains("on") || workflow.contains("true")) << "no `on:` trigger";
  ASSERT_TRUE(workflow.contains("jobs") && workflow["jobs"].is_object());
  ASSERT_TRUE(workflow["jobs"].contains("package"));
  ASSERT_TRUE(workflow["jobs"].contains("campaign"));
  for (const auto& [name, job] : workflow["jobs"].items()) {
    EXPECT_TRUE(job.contains("runs-on")) << name;
    ASSERT_TRUE(job.contains("steps") && job["steps"].is_array()) << name;
    EXPECT_FALSE(job["steps"].empty()) << name;
    for (const json& step : job["steps"]) {
      EXPECT_NE(step.contains("run"), step.contains("uses")) << name << ": " << step.dump();
    }
  }
  EXPECT_EQ(workflow["jobs"]["campaign"].value("needs", ""), "package");
}

TEST_F(CiRecipe, TheGitLabFileIsYamlWithItsJobsCacheAndJUnitReport) {
  const json pipeline = LoadYaml(kGitLab);
  ASSERT_TRUE(pipeline.is_object());
  ASSERT_TRUE(pipeline.contains("stages"));
  for (const char* name : {"package", "campaign"}) {
    ASSERT_TRUE(pipeline.contains(name)) << name;
    EXPECT_TRUE(pipeline[name].contains("stage")) << name;
    EXPECT_TRUE(pipeline[name]["script"].is_array()) << name;
  }
  const json& campaign = pipeline["campaign"];
  EXPECT_EQ(campaign["artifacts"]["reports"]["junit"], "nvlab-junit.xml");
  EXPECT_EQ(campaign["cache"]["paths"], json::array({".nvlab-home/"}));
}

// StepNumber is how ci/run-recipe names step n's files: two digits at least ("01").
std::string StepNumber(size_t n) {
  const std::string digits = std::to_string(n);
  return digits.size() < 2 ? "0" + digits : digits;
}

// ExpectReaderAgrees compares what ci/run-recipe --extract wrote for job with the parsed YAML.
void ExpectReaderAgrees(const json& workflow, const std::string& job, const fs::path& dir) {
  const CommandRun run =
      RunCommand({"bash", kRunRecipe.string(), "--extract", dir.string(), kGitHub.string(), job});
  ASSERT_EQ(run.exit_status, 0) << DescribeRun(run);
  const json& steps = workflow["jobs"][job]["steps"];
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string number = StepNumber(i + 1);
    const fs::path base = dir / number;
    const json& step = steps[i];
    SCOPED_TRACE(job + " step " + number);
    EXPECT_EQ(FileText(base.string() + ".name"),
              step.contains("name") ? step["name"].get<std::string>() + "\n" : "");
    EXPECT_EQ(FileText(base.string() + ".uses"),
              step.contains("uses") ? step["uses"].get<std::string>() + "\n" : "");
    EXPECT_EQ(FileText(base.string() + ".sh"),
              step.contains("run") ? step["run"].get<std::string>() : "");
  }
  // No step past the last one.
  const std::string past = StepNumber(steps.size() + 1);
  EXPECT_FALSE(fs::exists(dir / (past + ".name")));
  EXPECT_FALSE(fs::exists(dir / (past + ".sh")));
  // env: the workflow's, then the job's.
  std::string env;
  for (const json* map : {&workflow, &workflow["jobs"][job]}) {
    if (!map->contains("env")) continue;
    for (const auto& [key, value] : (*map)["env"].items()) {
      env += key + "=" + (value.is_string() ? value.get<std::string>() : value.dump()) + "\n";
    }
  }
  EXPECT_EQ(FileText(dir / "env"), env);
}

TEST_F(CiRecipe, TheRunnersReaderReadsTheStepsAsAYamlParserDoes) {
  const json workflow = LoadYaml(kGitHub);
  ASSERT_TRUE(workflow.is_object());
  for (const auto& [job, unused] : workflow["jobs"].items()) {
    ExpectReaderAgrees(workflow, job, scratch_ / job);
  }
  // Only GitHub can evaluate ${{ }}: the runner refuses a run: block holding one.
  for (const json& step : workflow["jobs"]["campaign"]["steps"]) {
    if (step.contains("run")) {
      EXPECT_EQ(step["run"].get<std::string>().find("${{"), std::string::npos);
    }
  }
}

TEST_F(CiRecipe, TheGitLabCampaignJobRunsTheGitHubCampaignJobsCommands) {
  const json workflow = LoadYaml(kGitHub);
  const json pipeline = LoadYaml(kGitLab);
  ASSERT_TRUE(workflow.is_object() && pipeline.is_object());
  json runs = json::array();
  for (const json& step : workflow["jobs"]["campaign"]["steps"]) {
    if (step.contains("run")) runs.push_back(step["run"]);
  }
  EXPECT_EQ(pipeline["campaign"]["script"], runs);
  json package_runs = json::array();
  for (const json& step : workflow["jobs"]["package"]["steps"]) {
    if (step.contains("run")) package_runs.push_back(step["run"]);
  }
  EXPECT_EQ(pipeline["package"]["script"], package_runs);
}

// JUnitSummary parses a JUnit file with Python's XML parser: "TESTS FAILURES ERRORS" of its
// <testcase> elements, or the parser's error.
std::string JUnitSummary(const fs::path& file) {
  const CommandRun run =
      RunCommand({"python3", "-c",
                  "import sys, xml.etree.ElementTree as ET\n"
                  "cases = list(ET.parse(sys.argv[1]).getroot().iter('testcase'))\n"
                  "print(len(cases), sum(c.find('failure') is not None for c in cases),\n"
                  "      sum(c.find('error') is not None for c in cases))",
                  file.string()});
  return run.exit_status == 0 ? run.out : DescribeRun(run);
}

TEST_F(CiRecipe, TheCampaignJobsStepsRunHere) {
  const fs::path deb = testing::TheDebPackage(NVLAB_PACKAGE_DIR);
  ASSERT_FALSE(deb.empty()) << "no single .deb in " << NVLAB_PACKAGE_DIR
                            << " (the fixture test DebPackage.Build makes it)";
  const fs::path work = scratch_ / "work";
  // NVLAB_HOME comes from CTest (the build tree's image cache), so it wins over the
  // workflow's.
  const CommandRun run = RunCommand({"bash", kRunRecipe.string(), "--deb", deb.string(),
                                     "--workdir", work.string(), kGitHub.string(), "campaign"});
  ASSERT_EQ(run.exit_status, 0) << DescribeRun(run);
  EXPECT_NE(run.out.find("ci/run-recipe: step: Run the campaign"), std::string::npos)
      << DescribeRun(run);
  EXPECT_NE(run.out.find("nvlab " NVLAB_VERSION), std::string::npos) << DescribeRun(run);
  EXPECT_EQ(JUnitSummary(work / "nvlab-junit.xml"), "3 0 0\n");
  const json report = json::parse(FileText(work / "nvlab-report.json"), nullptr, false);
  EXPECT_TRUE(report.is_object()) << FileText(work / "nvlab-report.json");
}

}  // namespace
}  // namespace nvlab
