// kernel_modules.cc -- ModuleIndex: modules.dep and modules.builtin, dependency order.

#include "nvlab/image/kernel_modules.h"

#include <sstream>

namespace nvlab::image {
namespace {

constexpr int kMaxDependencyDepth = 64;

}  // namespace

std::string ModuleName(std::string_view path) {
  std::size_t slash = path.rfind('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  std::size_t dot = path.find(".ko");
  std::string name(path.substr(0, dot));
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

Status ModuleIndex::Parse(std::string_view modules_dep, std::string_view modules_builtin) {
  std::istringstream dep{std::string(modules_dep)};
  std::string line;
  int number = 0;
  while (std::getline(dep, line)) {
    ++number;
    if (line.empty()) continue;
    std::size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      return Status::InvalidArgument("modules.dep:" + std::to_string(number) + ": no ':'");
    }
    std::string path = line.substr(0, colon);
    std::istringstream rest(line.substr(colon + 1));
    std::vector<std::string> dependencies;
    std::string dependency;
    while (rest >> dependency) dependencies.push_back(dependency);
    path_by_name_[ModuleName(path)] = path;
    dependencies_[path] = std::move(dependencies);
  }
  std::istringstream builtin{std::string(modules_builtin)};
  while (std::getline(builtin, line)) {
    if (!line.empty()) builtin_.insert(ModuleName(line));
  }
  return Status::Ok();
}

Status ModuleIndex::Visit(const std::string& path, std::set<std::string>* seen,
                          std::set<std::string>* visiting, std::vector<std::string>* order,
                          int depth) const {
  if (depth > kMaxDependencyDepth) {
    return Status::InvalidArgument("modules.dep: dependencies deeper than " +
                                   std::to_string(kMaxDependencyDepth) + " through " + path);
  }
  if (seen->count(path) != 0) return Status::Ok();
  // A path still being visited is its own dependency: no load order exists (depmod refuses
  // such loops, so the file is corrupt).
  if (visiting->count(path) != 0) {
    return Status::InvalidArgument("modules.dep: dependency loop through " + path);
  }
  auto found = dependencies_.find(path);
  if (found == dependencies_.end()) {
    return Status::NotFound("modules.dep names " + path + " as a dependency but not as a module");
  }
  visiting->insert(path);
  for (const std::string& dependency : found->second) {
    NVLAB_RETURN_IF_ERROR(Visit(dependency, seen, visiting, order, depth + 1));
  }
  visiting->erase(path);
  seen->insert(path);
  order->push_back(path);
  return Status::Ok();
}

Status ModuleIndex::Resolve(const std::vector<ModuleRequest>& requests,
                            std::vector<std::string>* paths,
                            std::vector<std::string>* builtin) const {
  std::set<std::string> seen;
  std::set<std::string> visiting;
  paths->clear();
  for (const ModuleRequest& request : requests) {
    std::string name = ModuleName(request.name);
    auto found = path_by_name_.find(name);
    if (found != path_by_name_.end()) {
      NVLAB_RETURN_IF_ERROR(Visit(found->second, &seen, &visiting, paths, 0));
    } else if (builtin_.count(name) != 0) {
      if (builtin != nullptr) builtin->push_back(name);
    } else if (!request.optional) {
      return Status::NotFound("kernel module " + name + " is neither in modules.dep nor built in");
    }
  }
  return Status::Ok();
}

}  // namespace nvlab::image
