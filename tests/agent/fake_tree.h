// fake_tree.h -- a temporary folder the agent's tests fill with the files a guest's sysfs and
// /dev would have; removed with everything in it at the end of the test.

#ifndef NVLAB_TESTS_AGENT_FAKE_TREE_H_
#define NVLAB_TESTS_AGENT_FAKE_TREE_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace nvlab::testing {

class FakeTree {
 public:
  FakeTree() {
    char templ[] = "/tmp/nvlab-agent-test-XXXXXX";
    root_ = mkdtemp(templ);
  }
  ~FakeTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  const std::string& root() const { return root_; }
  std::string Path(const std::string& relative) const { return root_ + "/" + relative; }

  // Write creates relative (and its folders) holding text.
  void Write(const std::string& relative, const std::string& text) const {
    const std::filesystem::path path = Path(relative);
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  void MakeDirectory(const std::string& relative) const {
    std::filesystem::create_directories(Path(relative));
  }
  std::string Read(const std::string& relative) const {
    std::ifstream in(Path(relative));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string root_;
};

}  // namespace nvlab::testing

#endif  // NVLAB_TESTS_AGENT_FAKE_TREE_H_
