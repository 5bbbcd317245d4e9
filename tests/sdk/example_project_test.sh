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
# Only the temporary prefix (no package registry): the tests find nvlab through its package.
cmake -S "$source_dir/examples/persistent-counter" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
cmake --build "$work/build" -j2
ctest --test-dir "$work/build" --output-on-failure
