#!/usr/bin/env bash
# run.sh - runs every libFuzzer target for SECONDS each (default 20) on a
# scratch copy of its corpus (tests/fuzz/corpus/<name>/, plus signed bundles
# from bundle_seeds). Exits non-zero on the first crash, leak or sanitizer
# report; the reproducer is left in $BUILD_DIR/fuzz-artifacts/.
#   BUILD_DIR=build/fuzz tests/fuzz/run.sh [SECONDS]
# Set KEEP_CORPUS=1 to grow tests/fuzz/corpus/ itself instead of a copy
# (then review what was added before committing it).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-20}
build=${BUILD_DIR:-build/fuzz}
bin=$build/tests/fuzz
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "${KEEP_CORPUS:-0}" = 1 ]; then
  corpus=tests/fuzz/corpus
else
  cp -r tests/fuzz/corpus/manifest tests/fuzz/corpus/bundle "$work"/
  corpus=$work
fi
# Signed seeds (the fixed fuzz key); regenerated each run, never committed.
mkdir -p "$work/signed"
"$bin/bundle_seeds" "$work/signed"

"$bin/manifest_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
  -dict=tests/fuzz/manifest.dict -artifact_prefix="$artifacts/manifest-" \
  "$corpus/manifest"
"$bin/bundle_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$artifacts/bundle-" "$corpus/bundle" "$work/signed"
echo "fuzz: manifest_fuzzer and bundle_fuzzer ran ${seconds}s each without a finding"
