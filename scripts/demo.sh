#!/usr/bin/env bash
# demo.sh - the README's first command: installs the dependencies, builds
# Troupe (build/release) and runs the main job (the demo program: example actors loaded
# through the C ABI, an ask, a counter, a ping-pong game).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build/release  # everything: the demo, director, the example bundles
build/release/daemon/demo/troupe_demo "$@"
