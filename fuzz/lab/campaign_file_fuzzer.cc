// campaign_file_fuzzer.cc -- libFuzzer target over the campaign file parser
// (nvlab/campaign/campaign_file.h): a user's file of tests x machines x policies x seeds.
// Machine names are looked up in the repository's qemu-configs/ (NVLAB_MACHINES_DIR); relative
// paths are anchored at a folder that does not exist, so that inputs read no file but those.
// Checks, besides ASan/UBSan: a campaign that parses also expands (as ParseCampaign promises),
// within kMaxCases, with unique case ids in expansion order; any shard count splits the cases
// into shards that hold each case exactly once.
//
// Run: build/fuzz/fuzz/lab/campaign_file_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/campaign/campaign_file.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  (void)std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace campaign = nvlab::campaign;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  campaign::Campaign parsed;
  if (!campaign::ParseCampaign(text, "/nonexistent-nvlab-fuzz/fuzz.campaign", NVLAB_MACHINES_DIR,
                               &parsed)
           .ok()) {
    return 0;
  }
  std::vector<campaign::CampaignCase> cases;
  const nvlab::Status expanded = campaign::ExpandCampaign(parsed, &cases);
  if (!expanded.ok()) Fail("a parsed campaign does not expand: " + expanded.message());
  if (cases.size() > campaign::kMaxCases) Fail("more cases than kMaxCases");
  std::set<std::string> ids;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].index != i) Fail("cases out of expansion order");
    if (!ids.insert(cases[i].id).second) Fail("a case id twice: " + cases[i].id);
  }
  for (int count : {1, 2, 3, 7}) {
    size_t total = 0;
    for (int shard = 1; shard <= count; ++shard) {
      for (const campaign::CampaignCase& c : campaign::SelectShard(cases, shard, count)) {
        if (campaign::ShardOf(c.index, count) != shard) Fail("a case in the wrong shard");
        ++total;
      }
    }
    if (total != cases.size()) Fail("shards do not hold every case once");
  }
  return 0;
}
