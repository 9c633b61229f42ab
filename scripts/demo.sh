#!/usr/bin/env bash
# demo.sh - the README's first command: installs the dependencies, builds
# what the demo and the README's director walkthrough need (build/release:
# troupd, director, the hello and examples actor libraries and the SDK's
# ask example; `cmake --build build/release` or
# scripts/test.sh builds the rest), then runs the main job: starts troupd in a local
# directory (build/demo-troupe), creates a signing key, builds and signs the
# hello bundle, loads it, asks its actor and prints the answer. The daemon is
# left running for you to explore; the last lines say how to go on and stop it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build/release --target troupd director hello troupe_examples troupe_example_ask

director="$PWD/build/release/director/director"
export TROUPE_DIR="$PWD/build/demo-troupe"
mkdir -p "$TROUPE_DIR"
chmod 700 "$TROUPE_DIR"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -S "$TROUPE_DIR/run/troupd.sock" ]; then
  step "stop the daemon left from an earlier run"
  "$director" shutdown || true
fi

step "start troupd in $TROUPE_DIR"
"$director" start

step "create a signing key and trust it"
if [ ! -f "$TROUPE_DIR/keys/demo.key" ]; then
  "$director" keygen demo
fi
"$director" trust "$TROUPE_DIR/keys/demo.pub"

step "build and sign the hello bundle (plugins/hello)"
"$director" gensrc --manifest plugins/hello/manifest.json \
  --lib build/release/plugins/hello/hello.so --key "$TROUPE_DIR/keys/demo.key" --version date

step "load it into the running daemon"
"$director" load hello

step "ask its actor (global name 'hello')"
"$director" ask hello --type text --data "hello, troupe"

step "what is loaded"
"$director" list

cat <<MSG

troupd is still running (socket: $TROUPE_DIR/run/troupd.sock). Go on with:
  export TROUPE_DIR=$TROUPE_DIR
  $director status                      # actors, counters, dead letters
  $director list                        # bundles and their actors
  $director ask hello --type text --data again
  build/release/sdk/examples/troupe_example_ask $TROUPE_DIR/run/troupd.sock hello "from the SDK"
  $director shutdown                    # drain and stop the daemon
MSG
