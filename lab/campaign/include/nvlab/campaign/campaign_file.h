// File: nvlab/campaign/campaign_file.h
//
// A campaign file declares many power-cycles at once (docs/formats/campaign.md): top-level
// defaults, then one `[test]` section per test, each a --before and an --after shell command
// with the exit status expected of them. ParseCampaign reads and checks the whole file (every
// machine resolved and loaded, every --on-cut policy read by the persistence model's own
// parser); ExpandCampaign turns it into cases, one power-cycle each, in a fixed order:
//
//   tests in file order x machines x persistence x on-cut entries (x seeds for {seed} entries)
//
// and SelectShard keeps the cases of one shard (case k, 0-based, belongs to shard k mod N + 1),
// so that N hosts given the same file and --shard 1/N .. N/N run every case exactly once.
//
// Syntax: the machine files' family (qemu-configs/README.md): `key = value` lines, `#`
// comments, sections. Every error is one line `FILE:LINE: field: problem`.
//
// Thread-safety: plain values and pure functions (ParseCampaign reads machine files).

#ifndef NVLAB_CAMPAIGN_CAMPAIGN_FILE_H_
#define NVLAB_CAMPAIGN_CAMPAIGN_FILE_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::campaign {

// Limits that keep a typing slip ("seeds = 1..1000000000") from becoming a run that never ends.
inline constexpr size_t kMaxCampaignFileBytes = 1 << 20;
inline constexpr size_t kMaxSeeds = 10000;
inline constexpr size_t kMaxCases = 100000;
inline constexpr int kDefaultCampaignTimeoutSeconds = 300;
inline constexpr int kMaxCampaignTimeoutSeconds = 86400;

// CampaignMachine is one entry of a `machines` list, resolved: what the file said, the machine
// file it names, and the machine's own name and persistence (from that file).
struct CampaignMachine {
  std::string entry;
  std::filesystem::path file;
  std::string name;
  std::string persistence;  // adr | eadr
};

// CampaignList is a comma list setting and the line it came from (the test's own, or the
// top-level default's), so that errors found while expanding it name the right line.
template <typename T>
struct CampaignList {
  std::vector<T> values;
  int line = 0;
};

// CampaignTest is one [test] section with the top-level defaults filled in.
struct CampaignTest {
  std::string name;
  int line = 0;  // of its [test] header
  std::string before;
  std::string after;
  int expect = 0;
  std::optional<int> expect_before;
  int timeout_seconds = kDefaultCampaignTimeoutSeconds;
  CampaignList<CampaignMachine> machines;
  CampaignList<std::string> persistence;  // adr | eadr | machine
  CampaignList<std::string> on_cut;       // as written: may hold {seed}
  CampaignList<uint64_t> seeds;
};

struct Campaign {
  std::string name;
  std::filesystem::path source;
  // share_dir: the folder mounted at /host in every guest, absolute; empty for none.
  std::filesystem::path share_dir;
  std::vector<CampaignTest> tests;
};

// CampaignCase is one power-cycle of a campaign: everything `nvlab power-cycle` needs, the id
// that names it in reports (TEST/MACHINE/PERSISTENCE/ONCUT) and its place in expansion order.
struct CampaignCase {
  size_t index = 0;
  std::string id;
  std::string test;
  std::string machine;  // the machine's name
  std::filesystem::path machine_file;
  std::string persistence;  // adr | eadr, as used
  std::string on_cut;       // the policy as given to the model ({seed} substituted)
  std::string before;
  std::string after;
  int expect = 0;
  std::optional<int> expect_before;
  int timeout_seconds = kDefaultCampaignTimeoutSeconds;
  std::filesystem::path share_dir;
};

// IsCampaignName says whether text is a usable campaign, test or machine name:
// [A-Za-z0-9_.-]{1,64}.
bool IsCampaignName(std::string_view text);

// ParseCampaign reads a campaign from text. `source` names it in errors and anchors relative
// paths (share, machine files); bare machine names are looked up in machines_dir. Errors are
// InvalidArgument `FILE:LINE: field: problem`. Expansion is checked too (on-cut entries with
// each seed, duplicate case ids, the case limit), so a campaign that parses also expands.
Status ParseCampaign(std::string_view text, const std::filesystem::path& source,
                     const std::filesystem::path& machines_dir, Campaign* out);

// LoadCampaign reads the file (at most kMaxCampaignFileBytes) and parses it; *bytes, when
// non-null, receives the file's content (the report hashes it).
Status LoadCampaign(const std::filesystem::path& file, const std::filesystem::path& machines_dir,
                    Campaign* out, std::string* bytes = nullptr);

// ExpandCampaign lists the campaign's cases in expansion order. It fails only on a campaign
// ParseCampaign did not produce (the same errors ParseCampaign would give).
Status ExpandCampaign(const Campaign& campaign, std::vector<CampaignCase>* out);

// ParseShard reads "I/N" with 1 <= I <= N <= 10000 (decimal); false otherwise.
bool ParseShard(std::string_view text, int* index, int* count);

// ShardOf is the shard (1-based) of case `case_index` among `count` shards.
int ShardOf(size_t case_index, int count);

// SelectShard keeps the cases of shard `index` of `count` (their index fields unchanged).
std::vector<CampaignCase> SelectShard(const std::vector<CampaignCase>& cases, int index, int count);

}  // namespace nvlab::campaign

#endif  // NVLAB_CAMPAIGN_CAMPAIGN_FILE_H_
