// kernel_modules_fuzzer.cc -- libFuzzer target over modules.dep and modules.builtin
// (nvlab/image/kernel_modules.h), read from the kernel package the image builder downloads.
// The input is three parts separated by NUL bytes: modules.dep, modules.builtin, and the names
// of the modules to resolve (one a line; a trailing '?' makes one optional).
// Checks, besides ASan/UBSan: a resolution that succeeds lists each file once, every file after
// the files it depends on (the guest's loader needs them loaded first), and every dependency of
// a listed file is listed.
//
// Run: build/fuzz/fuzz/lab/kernel_modules_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/image/kernel_modules.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  (void)std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

std::string_view Part(std::string_view* input) {
  const size_t end = input->find('\0');
  const std::string_view part = input->substr(0, end);
  input->remove_prefix(end == std::string_view::npos ? input->size() : end + 1);
  return part;
}

// Dependencies reads modules.dep the simple way, as the check's reference: the last line of a
// path wins, as in ModuleIndex.
std::map<std::string, std::vector<std::string>> Dependencies(std::string_view modules_dep) {
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream lines{std::string(modules_dep)};
  std::string line;
  while (std::getline(lines, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream rest(line.substr(colon + 1));
    std::vector<std::string> dependencies;
    std::string dependency;
    while (rest >> dependency) dependencies.push_back(dependency);
    out[line.substr(0, colon)] = dependencies;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view modules_dep = Part(&input);
  const std::string_view modules_builtin = Part(&input);
  std::vector<nvlab::image::ModuleRequest> requests;
  std::istringstream names{std::string(Part(&input))};
  for (std::string name; std::getline(names, name) && requests.size() < 64;) {
    nvlab::image::ModuleRequest request;
    request.optional = !name.empty() && name.back() == '?';
    if (request.optional) name.pop_back();
    request.name = name;
    requests.push_back(request);
  }
  nvlab::image::ModuleIndex index;
  if (!index.Parse(modules_dep, modules_builtin).ok()) return 0;
  std::vector<std::string> paths;
  std::vector<std::string> builtin;
  if (!index.Resolve(requests, &paths, &builtin).ok()) return 0;
  const auto dependencies = Dependencies(modules_dep);
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!position.emplace(paths[i], i).second) Fail("listed twice: " + paths[i]);
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto found = dependencies.find(paths[i]);
    if (found == dependencies.end()) Fail("not a module of modules.dep: " + paths[i]);
    for (const std::string& dependency : found->second) {
      const auto at = position.find(dependency);
      if (at == position.end()) Fail(paths[i] + " is listed without its dependency " + dependency);
      if (at->second >= i) Fail(paths[i] + " is listed before its dependency " + dependency);
    }
  }
  return 0;
}
