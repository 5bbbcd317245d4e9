// File: nvlab/image/kernel_modules.h
//
// ModuleIndex answers "which module files does the guest need for these modules, in load
// order?" from a kernel's modules.dep (written by depmod) and modules.builtin. The guest has no
// udev: its init loads the modules with busybox modprobe, which reads the modules.dep that
// `depmod -b` writes for the copied subset.
//
// Thread-safety: const methods may be called concurrently.

#ifndef NVLAB_IMAGE_KERNEL_MODULES_H_
#define NVLAB_IMAGE_KERNEL_MODULES_H_

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab::image {

// ModuleName returns the canonical name of a module file path:
// "kernel/net/9p/9pnet_virtio.ko.xz" -> "9pnet_virtio", with '-' read as '_' as the kernel does.
std::string ModuleName(std::string_view path);

struct ModuleRequest {
  std::string name;
  bool optional = false;  // absent from this kernel (neither module nor built in): skip it
};

class ModuleIndex {
 public:
  // Parse reads modules.dep ("path: dep-path dep-path ...") and modules.builtin (one path a
  // line). Malformed lines: InvalidArgument naming the line.
  Status Parse(std::string_view modules_dep, std::string_view modules_builtin);

  // Resolve returns in *paths the module files (relative to lib/modules/<release>) the requests
  // need, each after its dependencies and each once; built-in modules are skipped (named in
  // *builtin when non-null). A required module that is neither: NotFound. A dependency loop
  // (no load order exists) or a chain deeper than 64: InvalidArgument.
  Status Resolve(const std::vector<ModuleRequest>& requests, std::vector<std::string>* paths,
                 std::vector<std::string>* builtin) const;

 private:
  // Visit appends path after its dependencies; seen: listed, visiting: on the current chain.
  Status Visit(const std::string& path, std::set<std::string>* seen,
               std::set<std::string>* visiting, std::vector<std::string>* order, int depth) const;

  std::map<std::string, std::string> path_by_name_;
  std::map<std::string, std::vector<std::string>> dependencies_;  // by path
  std::set<std::string> builtin_;
};

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_KERNEL_MODULES_H_
