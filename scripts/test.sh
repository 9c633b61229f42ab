#!/usr/bin/env bash
# test.sh - the README's second command, and exactly what CI runs: installs
# the dependencies, builds with -Wall -Wextra -Werror, runs every test, then
# builds again with AddressSanitizer + UndefinedBehaviorSanitizer and with
# ThreadSanitizer, running every test under each, runs the
# benchmarks as a short smoke test
# (Troupe next to CAF and Erlang, 1/100 of the full counts), builds
# tests/out_of_tree/hello_project and client_project against `cmake --install`
# output, runs each libFuzzer target for 20 seconds (clang build, build/fuzz),
# and finally builds the Debian packages, checks them with lintian and installs
# them in a clean Debian 12 root (scripts/package-test.sh, build/pkg).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)
summary=()

run_suite() {  # run_suite NAME BUILD_DIR [cmake args...]
  local name=$1 dir=$2
  shift 2
  echo "=== $name: configure and build ($dir)"
  cmake -S . -B "$dir" -G Ninja -DTROUPE_WERROR=ON "$@"
  cmake --build "$dir" -j "$jobs"
  echo "=== $name: test"
  local log
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" | tee "$log"
  summary+=("$name: $(grep -E 'tests passed|tests failed' "$log" | tail -1)")
  rm -f "$log"
}

run_suite "release" build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite "asan+ubsan" build/asan -DCMAKE_BUILD_TYPE=Debug -DTROUPE_SANITIZE=address,undefined
run_suite "tsan" build/tsan -DCMAKE_BUILD_TYPE=Debug -DTROUPE_SANITIZE=thread

echo "=== benchmark smoke run (tests/bench/run_peers.sh --quick)"
BUILD_DIR=build/ci tests/bench/run_peers.sh --quick

echo "=== out-of-tree project against the installed tree (tests/out_of_tree/)"
rm -rf build/install build/hello_project
cmake --install build/ci --prefix build/install
cmake -S tests/out_of_tree/hello_project -B build/hello_project -G Ninja \
      -DCMAKE_PREFIX_PATH="$PWD/build/install"
cmake --build build/hello_project -j "$jobs"
oot_dir=$(mktemp -d)
build/install/bin/director --dir "$oot_dir" trust build/hello_project/troupe-keys/build.pub
build/install/bin/director --dir "$oot_dir" tlsinfo build/hello_project/greeter-1.0.troupe contents
rm -rf "$oot_dir"
summary+=("out-of-tree: hello_project built against build/install, bundle verified")
rm -rf build/client_project
cmake -S tests/out_of_tree/client_project -B build/client_project -G Ninja \
      -DCMAKE_PREFIX_PATH="$PWD/build/install"
cmake --build build/client_project -j "$jobs"
build/client_project/client_check
summary+=("out-of-tree: client_project linked Troupe::client, Connect to a missing socket: UNAVAILABLE")

echo "=== director new: a generated project builds against the installed tree"
new_root=$(mktemp -d)
build/install/bin/director new hello --out "$new_root/hello"
cmake -S "$new_root/hello" -B "$new_root/hello/build" -G Ninja \
      -DCMAKE_PREFIX_PATH="$PWD/build/install"
cmake --build "$new_root/hello/build" -j "$jobs"
build/install/bin/director --dir "$new_root/troupe" trust "$new_root/hello/build/troupe-keys/build.pub"
build/install/bin/director --dir "$new_root/troupe" tlsinfo \
      "$new_root/hello/build/hello-0.1.0.troupe" contents
rm -rf "$new_root"
summary+=("director new: generated project built, bundle verified")

echo "=== fuzz smoke run: clang + libFuzzer, 20 s per target (tests/fuzz/README.md)"
CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DTROUPE_FUZZ=ON -DTROUPE_WERROR=ON
cmake --build build/fuzz -j "$jobs" --target fuzzers
BUILD_DIR=build/fuzz tests/fuzz/run.sh 20
summary+=("fuzz: manifest_fuzzer, bundle_fuzzer 20 s each, no finding")

echo "=== Debian packages: build, lintian, install and check in a clean Debian 12 root"
JOBS=$jobs bash scripts/package-test.sh
summary+=("debian packages: troupe and libtroupe-dev without lintian errors; in a clean Debian 12 root troupd ran as troupe, an out-of-tree bundle answered, purge removed /var/lib/troupe")

echo "=== summary"
printf '%s\n' "${summary[@]}"
passed=0
for dir in build/ci build/asan build/tsan; do
  n=$(ctest --test-dir "$dir" -N | sed -n 's/^Total Tests: //p')
  passed=$((passed + n))
done
echo "tests: $passed passed, 0 failed"
