#!/bin/bash
# example_project_test.sh BUILD_DIR SOURCE_DIR -- the SDK as an outside user has it: install the
# built project into a fresh temporary prefix, configure and build examples/persistent-counter
# against that prefix only, and run its power-cycle tests (ctest in the example's build folder).
# Exit 0 when they all pass.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/nvlab-sdk-example-XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >"$work/install.log" ||
  { cat "$work/install.log"; exit 1; }
# nvlab.pc gives every flag a program needs to link the SDK (static libraries, libcrypto); the
# program finds the install through NVLAB_PREFIX.
cat >"$work/pc_check.cc" <<'PROGRAM'
#include <nvlab/nvlab.h>
#include <iostream>
int main() {
  std::unique_ptr<nvlab::Lab> lab;
  const nvlab::Status s = nvlab::Lab::Create(nvlab::LabConfig(), &lab);
  if (!s.ok()) {
    std::cerr << s.ToString() << "\n";
    return nvlab::ExitStatusOf(s);
  }
  std::cout << lab->prefix().string() << "\n";
  return 0;
}
PROGRAM
pc_dir=$(dirname "$(find "$work/prefix" -name nvlab.pc)")
# shellcheck disable=SC2046 # pkg-config's flags are words
c++ -std=c++20 "$work/pc_check.cc" -o "$work/pc_check" \
  $(PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs nvlab)
test "$(NVLAB_PREFIX=$work/prefix "$work/pc_check")" = "$work/prefix"

# Only the temporary prefix (no package registry): the tests find nvlab through its package.
cmake -S "$source_dir/examples/persistent-counter" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
cmake --build "$work/build" -j2
ctest --test-dir "$work/build" --output-on-failure
