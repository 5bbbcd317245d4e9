// campaign_file.cc -- ParseCampaign, ExpandCampaign, shards.
//
// Parsing is two passes: the first reads the syntax (sections, keys, values and their lines),
// the second gives each value its meaning, test by test, with the top-level defaults filled in.
// Expansion runs at the end of parsing as a check, so every error a campaign can have is found
// before any guest boots.

#include "nvlab/campaign/campaign_file.h"

#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "nvlab/decimal.h"
#include "nvlab/machine.h"
#include "nvlab/model/cut_policy.h"

namespace nvlab::campaign {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSeedPlaceholder = "{seed}";
constexpr int kMaxShards = 10000;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// LineError is the one error form: "FILE:LINE: field: problem".
Status LineError(const fs::path& source, int line, std::string_view field,
                 std::string_view problem) {
  const std::string shown = source.empty() ? "<campaign>" : source.string();
  return Status::InvalidArgument(shown + ":" + std::to_string(line) + ": " + std::string(field) +
                                 ": " + std::string(problem));
}

// Setting is one `key = value` line as read.
struct Setting {
  std::string value;
  int line = 0;
};

// Section is the top level or one [test]: its settings by key.
struct Section {
  int line = 0;
  std::map<std::string, Setting, std::less<>> settings;

  const Setting* Find(std::string_view key) const {
    auto it = settings.find(key);
    return it == settings.end() ? nullptr : &it->second;
  }
};

// Commands keep '#': it is the shell's, and a trailing comment is one the shell ignores too.
bool IsCommandKey(std::string_view key) {
  return key == "before" || key == "after";
}

constexpr std::string_view kTopKeys[] = {"name",        "share",  "timeout", "machines",
                                         "persistence", "on-cut", "seeds"};
constexpr std::string_view kTestKeys[] = {"name",          "before",  "after",    "expect",
                                          "expect-before", "timeout", "machines", "persistence",
                                          "on-cut",        "seeds"};

template <size_t N>
bool OneOf(std::string_view key, const std::string_view (&keys)[N]) {
  for (std::string_view k : keys) {
    if (k == key) return true;
  }
  return false;
}

template <size_t N>
std::string ListOf(const std::string_view (&keys)[N]) {
  std::string out;
  for (std::string_view k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

// Parser holds one parse: the file's name for errors and what has been read so far.
class Parser {
 public:
  Parser(const fs::path& source, const fs::path& machines_dir)
      : source_(source), machines_dir_(machines_dir) {}

  Status Error(int line, std::string_view field, std::string_view problem) const {
    return LineError(source_, line, field, problem);
  }

  Status ReadSyntax(std::string_view text);
  Status Interpret(Campaign* out);

 private:
  Status InterpretTop(Campaign* out);
  Status InterpretTest(const Section& section, CampaignTest* test);
  Status ParseMachines(const Setting& setting, CampaignList<CampaignMachine>* out);
  Status ResolveOneMachine(const std::string& entry, int line, CampaignMachine* out);
  Status ParsePersistenceList(const Setting& setting, CampaignList<std::string>* out) const;
  Status ParseOnCutList(const Setting& setting, CampaignList<std::string>* out) const;
  Status ParseSeeds(const Setting& setting, CampaignList<uint64_t>* out) const;
  Status SplitList(const Setting& setting, std::string_view field,
                   std::vector<std::string>* out) const;
  // Effective is the test's own setting, else the top level's, else nullptr.
  const Setting* Effective(const Section& test, std::string_view key) const {
    if (const Setting* own = test.Find(key)) return own;
    return top_.Find(key);
  }

  fs::path source_;
  fs::path machines_dir_;
  Section top_;
  std::vector<Section> tests_;
  int last_line_ = 0;
  // Machines by entry: each file is read once however many tests name it.
  std::map<std::string, CampaignMachine> machines_;
};

Status Parser::ReadSyntax(std::string_view text) {
  Section* section = &top_;
  std::istringstream in{std::string(text)};
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[') {
      line = Trim(line.substr(0, line.find('#')));
      if (line != "[test]") return Error(line_no, line, "unknown section (only [test] exists)");
      tests_.emplace_back();
      section = &tests_.back();
      section->line = line_no;
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return Error(line_no, line, "expected 'key = value'");
    const std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = line.substr(eq + 1);
    if (!IsCommandKey(key)) value = value.substr(0, value.find('#'));
    value = Trim(value);
    if (key.empty()) return Error(line_no, "?", "missing key before '='");
    const bool top = section == &top_;
    if (top && !OneOf(key, kTopKeys)) {
      return Error(line_no, key, "unknown field (" + ListOf(kTopKeys) + ", or a [test] section)");
    }
    if (!top && !OneOf(key, kTestKeys)) {
      return Error(line_no, key, "unknown field in [test] (" + ListOf(kTestKeys) + ")");
    }
    if (value.empty()) return Error(line_no, key, "missing value");
    if (const Setting* earlier = section->Find(key)) {
      return Error(line_no, key,
                   "given twice (first at line " + std::to_string(earlier->line) + ")");
    }
    section->settings[std::string(key)] = Setting{std::string(value), line_no};
  }
  last_line_ = line_no;
  return Status::Ok();
}

Status Parser::SplitList(const Setting& setting, std::string_view field,
                         std::vector<std::string>* out) const {
  out->clear();
  std::string_view rest = setting.value;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view entry = Trim(rest.substr(0, comma));
    if (entry.empty()) return Error(setting.line, field, "empty entry in the comma list");
    out->emplace_back(entry);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return Status::Ok();
}

Status Parser::ResolveOneMachine(const std::string& entry, int line, CampaignMachine* out) {
  if (auto it = machines_.find(entry); it != machines_.end()) {
    *out = it->second;
    return Status::Ok();
  }
  // A machine file named by a relative path is found beside the campaign file, as on every
  // host the file is copied to.
  std::string name_or_file = entry;
  const bool is_file = entry.find('/') != std::string::npos || entry.ends_with(".machine");
  if (is_file && fs::path(entry).is_relative()) {
    name_or_file = (source_.parent_path() / entry).string();
  }
  CampaignMachine machine;
  machine.entry = entry;
  Status s = nvlab::ResolveMachine(name_or_file, machines_dir_, &machine.file);
  if (!s.ok()) return Error(line, "machines", s.message());
  Machine loaded;
  s = LoadMachine(machine.file, &loaded);
  if (!s.ok()) return Error(line, "machines", s.message());
  if (!IsCampaignName(loaded.name)) {
    return Error(line, "machines",
                 "machine " + entry + " is named '" + loaded.name +
                     "', which a case id cannot hold ([A-Za-z0-9_.-], 1 to 64 characters)");
  }
  machine.name = loaded.name;
  machine.persistence = ToString(loaded.persistence);
  machines_[entry] = machine;
  *out = std::move(machine);
  return Status::Ok();
}

Status Parser::ParseMachines(const Setting& setting, CampaignList<CampaignMachine>* out) {
  std::vector<std::string> entries;
  NVLAB_RETURN_IF_ERROR(SplitList(setting, "machines", &entries));
  out->values.clear();
  out->line = setting.line;
  for (const std::string& entry : entries) {
    CampaignMachine machine;
    NVLAB_RETURN_IF_ERROR(ResolveOneMachine(entry, setting.line, &machine));
    out->values.push_back(std::move(machine));
  }
  return Status::Ok();
}

Status Parser::ParsePersistenceList(const Setting& setting, CampaignList<std::string>* out) const {
  NVLAB_RETURN_IF_ERROR(SplitList(setting, "persistence", &out->values));
  out->line = setting.line;
  for (const std::string& entry : out->values) {
    if (entry != "adr" && entry != "eadr" && entry != "machine") {
      return Error(setting.line, "persistence",
                   "'" + entry + "': expected adr, eadr or machine (the machine's own)");
    }
  }
  return Status::Ok();
}

Status Parser::ParseOnCutList(const Setting& setting, CampaignList<std::string>* out) const {
  NVLAB_RETURN_IF_ERROR(SplitList(setting, "on-cut", &out->values));
  out->line = setting.line;
  return Status::Ok();
}

Status Parser::ParseSeeds(const Setting& setting, CampaignList<uint64_t>* out) const {
  std::vector<std::string> entries;
  NVLAB_RETURN_IF_ERROR(SplitList(setting, "seeds", &entries));
  out->values.clear();
  out->line = setting.line;
  for (const std::string& entry : entries) {
    const size_t dots = entry.find("..");
    uint64_t first = 0;
    uint64_t last = 0;
    const bool ok = dots == std::string::npos
                        ? ParseDecimal<uint64_t>(entry, 0, UINT64_MAX, &first)
                        : ParseDecimal<uint64_t>(Trim(std::string_view(entry).substr(0, dots)), 0,
                                                 UINT64_MAX, &first) &&
                              ParseDecimal<uint64_t>(Trim(std::string_view(entry).substr(dots + 2)),
                                                     0, UINT64_MAX, &last);
    if (!ok) {
      return Error(setting.line, "seeds",
                   "'" + entry + "': expected a decimal number or a range A..B");
    }
    if (dots == std::string::npos) last = first;
    if (last < first) {
      return Error(setting.line, "seeds", "'" + entry + "': the range ends before it starts");
    }
    if (last - first >= kMaxSeeds || out->values.size() + (last - first + 1) > kMaxSeeds) {
      return Error(setting.line, "seeds",
                   "more than " + std::to_string(kMaxSeeds) + " seeds in one list");
    }
    for (uint64_t seed = first;; ++seed) {
      out->values.push_back(seed);
      if (seed == last) break;
    }
  }
  return Status::Ok();
}

Status Parser::InterpretTop(Campaign* out) {
  const Setting* name = top_.Find("name");
  if (name == nullptr) return Error(1, "name", "missing: every campaign has a name = NAME line");
  if (!IsCampaignName(name->value)) {
    return Error(name->line, "name", "'" + name->value + "': use 1 to 64 of A-Z a-z 0-9 _ . -");
  }
  out->name = name->value;
  if (const Setting* share = top_.Find("share")) {
    fs::path dir = share->value;
    if (dir.is_relative()) dir = source_.parent_path() / dir;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      return Error(share->line, "share", "no folder " + dir.string());
    }
    out->share_dir = fs::absolute(dir, ec).lexically_normal();
    if (ec) return Error(share->line, "share", "cannot resolve " + dir.string());
  }
  if (tests_.empty()) {
    return Error(last_line_ + 1, "[test]", "a campaign needs at least one [test] section");
  }
  return Status::Ok();
}

Status Parser::InterpretTest(const Section& section, CampaignTest* test) {
  test->line = section.line;
  auto required = [&](std::string_view key, std::string* value) {
    const Setting* s = section.Find(key);
    if (s == nullptr) {
      return Error(section.line, key,
                   "missing in this [test] (name, before and after are required)");
    }
    *value = s->value;
    return Status::Ok();
  };
  NVLAB_RETURN_IF_ERROR(required("name", &test->name));
  if (!IsCampaignName(test->name)) {
    return Error(section.Find("name")->line, "name",
                 "'" + test->name + "': use 1 to 64 of A-Z a-z 0-9 _ . -");
  }
  NVLAB_RETURN_IF_ERROR(required("before", &test->before));
  NVLAB_RETURN_IF_ERROR(required("after", &test->after));
  if (const Setting* s = section.Find("expect");
      s != nullptr && !ParseDecimal(s->value, 0, 255, &test->expect)) {
    return Error(s->line, "expect", "'" + s->value + "': expected an exit status, 0 to 255");
  }
  if (const Setting* s = section.Find("expect-before")) {
    int status = 0;
    if (!ParseDecimal(s->value, 0, 255, &status)) {
      return Error(s->line, "expect-before",
                   "'" + s->value + "': expected an exit status, 0 to 255");
    }
    test->expect_before = status;
  }
  if (const Setting* s = Effective(section, "timeout");
      s != nullptr &&
      !ParseDecimal(s->value, 1, kMaxCampaignTimeoutSeconds, &test->timeout_seconds)) {
    return Error(s->line, "timeout", "'" + s->value + "': expected seconds, 1 to 86400");
  }
  // A setting nobody gave takes its built-in default, blamed on the [test] header line.
  auto effective_or = [&](std::string_view key, std::string_view fallback) {
    const Setting* s = Effective(section, key);
    return s != nullptr ? *s : Setting{std::string(fallback), section.line};
  };
  NVLAB_RETURN_IF_ERROR(ParseMachines(effective_or("machines", "default"), &test->machines));
  NVLAB_RETURN_IF_ERROR(
      ParsePersistenceList(effective_or("persistence", "machine"), &test->persistence));
  NVLAB_RETURN_IF_ERROR(ParseOnCutList(effective_or("on-cut", "lose"), &test->on_cut));
  if (const Setting* s = Effective(section, "seeds")) {
    NVLAB_RETURN_IF_ERROR(ParseSeeds(*s, &test->seeds));
  } else {
    test->seeds.line = section.line;
  }
  return Status::Ok();
}

Status Parser::Interpret(Campaign* out) {
  Campaign campaign;
  campaign.source = source_;
  NVLAB_RETURN_IF_ERROR(InterpretTop(&campaign));
  std::map<std::string, int> test_lines;
  for (const Section& section : tests_) {
    CampaignTest test;
    NVLAB_RETURN_IF_ERROR(InterpretTest(section, &test));
    if (auto [it, added] = test_lines.emplace(test.name, section.line); !added) {
      return Error(
          section.Find("name")->line, "name",
          "test '" + test.name + "' is already defined at line " + std::to_string(it->second));
    }
    campaign.tests.push_back(std::move(test));
  }
  *out = std::move(campaign);
  return Status::Ok();
}

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

bool IsCampaignName(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (const char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status ParseCampaign(std::string_view text, const fs::path& source, const fs::path& machines_dir,
                     Campaign* out) {
  Parser parser(source, machines_dir);
  NVLAB_RETURN_IF_ERROR(parser.ReadSyntax(text));
  Campaign campaign;
  NVLAB_RETURN_IF_ERROR(parser.Interpret(&campaign));
  std::vector<CampaignCase> cases;
  NVLAB_RETURN_IF_ERROR(ExpandCampaign(campaign, &cases));
  *out = std::move(campaign);
  return Status::Ok();
}

Status LoadCampaign(const fs::path& file, const fs::path& machines_dir, Campaign* out,
                    std::string* bytes) {
  std::error_code ec;
  if (fs::exists(file, ec) && !fs::is_regular_file(file, ec)) {
    return Status::InvalidArgument("campaign file " + file.string() + " is not a regular file");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound("cannot read campaign file " + file.string());
  std::string text(kMaxCampaignFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Status::IoError("cannot read campaign file " + file.string());
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxCampaignFileBytes) {
    return Status::InvalidArgument(file.string() + ": larger than 1 MiB");
  }
  NVLAB_RETURN_IF_ERROR(ParseCampaign(text, file, machines_dir, out));
  if (bytes != nullptr) *bytes = std::move(text);
  return Status::Ok();
}

Status ExpandCampaign(const Campaign& campaign, std::vector<CampaignCase>* out) {
  auto error = [&campaign](int line, std::string_view field, std::string_view problem) {
    return LineError(campaign.source, line, field, problem);
  };
  std::vector<CampaignCase> cases;
  std::map<std::string, int> seen;  // case id -> the [test] line that made it
  for (const CampaignTest& test : campaign.tests) {
    // Each entry with its seeds substituted, checked once per test.
    std::vector<std::string> on_cut;
    for (const std::string& entry : test.on_cut.values) {
      std::vector<std::string> texts;
      if (entry.find(kSeedPlaceholder) == std::string::npos) {
        texts.push_back(entry);
      } else if (test.seeds.values.empty()) {
        return error(
            test.on_cut.line, "on-cut",
            "'" + entry + "' holds {seed} but no seeds = list applies to test '" + test.name + "'");
      } else {
        for (uint64_t seed : test.seeds.values) {
          texts.push_back(ReplaceAll(entry, kSeedPlaceholder, std::to_string(seed)));
        }
      }
      for (std::string& text : texts) {
        model::CutPolicy policy;
        std::string why;
        if (model::ParseCutPolicy(text, &policy, &why) != model::ModelStatus::kOk) {
          return error(test.on_cut.line, "on-cut", "'" + text + "': " + why);
        }
        on_cut.push_back(std::move(text));
      }
    }
    for (const CampaignMachine& machine : test.machines.values) {
      for (const std::string& persistence : test.persistence.values) {
        const std::string used = persistence == "machine" ? machine.persistence : persistence;
        for (const std::string& policy : on_cut) {
          if (cases.size() >= kMaxCases) {
            return error(
                test.line, "[test]",
                "the campaign expands to more than " + std::to_string(kMaxCases) + " cases");
          }
          CampaignCase c;
          c.index = cases.size();
          c.test = test.name;
          c.machine = machine.name;
          c.machine_file = machine.file;
          c.persistence = used;
          c.on_cut = policy;
          c.id = c.test + "/" + c.machine + "/" + c.persistence + "/" + c.on_cut;
          c.before = test.before;
          c.after = test.after;
          c.expect = test.expect;
          c.expect_before = test.expect_before;
          c.timeout_seconds = test.timeout_seconds;
          c.share_dir = campaign.share_dir;
          if (auto [it, added] = seen.emplace(c.id, test.line); !added) {
            return error(test.line, "[test]",
                         "case id '" + c.id +
                             "' comes up twice (first from the [test] at "
                             "line " +
                             std::to_string(it->second) + ")");
          }
          cases.push_back(std::move(c));
        }
      }
    }
  }
  *out = std::move(cases);
  return Status::Ok();
}

bool ParseShard(std::string_view text, int* index, int* count) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  int i = 0;
  int n = 0;
  if (!ParseDecimal(text.substr(0, slash), 1, kMaxShards, &i) ||
      !ParseDecimal(text.substr(slash + 1), 1, kMaxShards, &n) || i > n) {
    return false;
  }
  *index = i;
  *count = n;
  return true;
}

int ShardOf(size_t case_index, int count) {
  return static_cast<int>(case_index % static_cast<size_t>(count)) + 1;
}

std::vector<CampaignCase> SelectShard(const std::vector<CampaignCase>& cases, int index,
                                      int count) {
  std::vector<CampaignCase> out;
  for (const CampaignCase& c : cases) {
    if (ShardOf(c.index, count) == index) out.push_back(c);
  }
  return out;
}

}  // namespace nvlab::campaign
