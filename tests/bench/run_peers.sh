#!/usr/bin/env bash
# Runs the Troupe benchmark driver and the same workloads on the peer systems
# (CAF 0.17 and Erlang/OTP), then prints Troupe/peer ratios.
#
# Usage: tests/bench/run_peers.sh [--quick] [--contended]
#   --contended  one busy-looping process per core runs beside every program;
#                every summary name gets the suffix _contended
#
# Environment:
#   BUILD_DIR      build directory (default: build); peers are built into
#                  $BUILD_DIR/peers
#   TROUPE_BENCH   Troupe driver (default: $BUILD_DIR/tests/bench/troupe_bench);
#                  skipped with a message if it does not exist
#   BENCH_REPEAT   run every program this many times and keep the best value
#                  of each RESULT (highest rate, lowest memory); default 1
#   BENCH_TIMEOUT  seconds allowed per program run (default 900)
#
# Output: "RESULT <name> <value> <unit>" lines, then
#   RESULT ratio_<workload>_vs_<peer> <troupe/peer> x
# for pingpong, fanin and spawn (rates: higher is better), and
#   RESULT ratio_spawn_memory_vs_<peer> <troupe/peer> x_lower_is_better
# for the memory per idle actor (lower is better).
# Exits non-zero if a program fails to build or run.
set -euo pipefail

usage() {
  echo "usage: $0 [--quick] [--contended]" >&2
  exit 2
}

QUICK=()
CONTENDED=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=(--quick) ;;
    --contended) CONTENDED=1 ;;
    -h | --help) usage ;;
    *)
      echo "run_peers.sh: unknown argument '$arg'" >&2
      usage
      ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PEERS_SRC="$ROOT/tests/bench/peers"
BUILD_DIR="${BUILD_DIR:-build}"
OUT="$BUILD_DIR/peers"
TROUPE_BENCH="${TROUPE_BENCH:-$BUILD_DIR/tests/bench/troupe_bench}"
REPEAT="${BENCH_REPEAT:-1}"
TIMEOUT="${BENCH_TIMEOUT:-900}"
CXX="${CXX:-g++}"

if ! [[ "$REPEAT" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_peers.sh: BENCH_REPEAT must be a positive integer" >&2
  exit 2
fi

log() { echo "== $*" >&2; }
die() {
  echo "run_peers.sh: error: $*" >&2
  exit 1
}

mkdir -p "$OUT"
RESULTS="$(mktemp "${TMPDIR:-/tmp}/troupe-peers.XXXXXX")"
BUSY_PIDS=()
stop_busy() {
  if ((${#BUSY_PIDS[@]} > 0)); then kill "${BUSY_PIDS[@]}" 2> /dev/null || true; fi
  BUSY_PIDS=()
}
trap 'stop_busy; rm -f "$RESULTS" "$RESULTS".run' EXIT

# -- build ---------------------------------------------------------------------

for tool in "$CXX" erlc erl; do
  command -v "$tool" > /dev/null || die "'$tool' not found (Debian: apt-get install -y g++ libcaf-dev erlang-base erlang-dev)"
done
[[ -f /usr/include/caf/all.hpp ]] || die "CAF headers not found (Debian: apt-get install -y libcaf-dev)"

CAF_BIN="$OUT/caf_bench"
if [[ ! -x "$CAF_BIN" || "$PEERS_SRC/caf_bench.cpp" -nt "$CAF_BIN" ]]; then
  log "building $CAF_BIN"
  "$CXX" -O2 -std=c++17 -pthread -o "$CAF_BIN" "$PEERS_SRC/caf_bench.cpp" \
    -lcaf_core || die "building the CAF peer failed"
fi

log "compiling $OUT/erlang_bench.beam"
erlc -o "$OUT" "$PEERS_SRC/erlang_bench.erl" || die "compiling the Erlang peer failed"

# -- run -----------------------------------------------------------------------

# --contended: one busy-looping process per core beside every run (a host that
# is busy with something else); the summary's names get the suffix _contended.
if ((CONTENDED)); then
  for ((i = 0; i < $(nproc); i++)); do
    bash -c 'while :; do :; done' &
    BUSY_PIDS+=($!)
  done
  log "contended: ${#BUSY_PIDS[@]} busy loops running (pids ${BUSY_PIDS[*]})"
fi

# run_prog LABEL CMD... : runs CMD BENCH_REPEAT times, echoes its RESULT lines
# to stderr and collects them in $RESULTS.
run_prog() {
  local label="$1"
  shift
  local i rc
  for ((i = 1; i <= REPEAT; i++)); do
    log "running $label ($i/$REPEAT): $*"
    rc=0
    timeout "$TIMEOUT" "$@" > "$RESULTS.run" || rc=$?
    # per-run lines go to stderr; stdout gets the summary below
    sed -n "s/^RESULT /  [$label run $i] RESULT /p" "$RESULTS.run" >&2
    if ((rc != 0)); then
      echo "run_peers.sh: error: $label exited with status $rc" >&2
      return 1
    fi
    if ! grep -q '^RESULT ' "$RESULTS.run"; then
      echo "run_peers.sh: error: $label printed no RESULT line" >&2
      return 1
    fi
    grep '^RESULT ' "$RESULTS.run" >> "$RESULTS"
  done
}

FAILED=()

if [[ -x "$TROUPE_BENCH" ]]; then
  run_prog troupe "$TROUPE_BENCH" "${QUICK[@]}" || FAILED+=(troupe)
else
  log "Troupe driver '$TROUPE_BENCH' not found: skipping Troupe (peers still run; no ratios)"
fi

run_prog caf "$CAF_BIN" "${QUICK[@]}" || FAILED+=(caf)

# +S 2:2      two schedulers, like CAF's two workers
# +P 2000000  process limit above the 1,000,000 idle processes of "spawn"
run_prog erlang erl +S 2:2 +P 2000000 -noshell -pa "$OUT" \
  -run erlang_bench main -extra "${QUICK[@]}" || FAILED+=(erlang)

stop_busy

# -- summary -------------------------------------------------------------------

echo
echo "# best of $REPEAT run(s)${QUICK:+, quick (1/100 of the counts)}$( ((CONTENDED)) && echo ", contended")"
SUFFIX=""
((CONTENDED)) && SUFFIX="_contended"
awk -v suffix="$SUFFIX" '
  function lower_is_better(name) { return name ~ /_memory$/ }
  $1 == "RESULT" && NF >= 4 {
    name = $2; v = $3 + 0
    if (!(name in best)) { order[++n] = name; best[name] = v; unit[name] = $4 }
    else if (lower_is_better(name) ? v < best[name] : v > best[name]) best[name] = v
  }
  END {
    for (i = 1; i <= n; i++) printf "RESULT %s%s %.1f %s\n", order[i], suffix, best[order[i]], unit[order[i]]
    split("pingpong_rate fanin_rate spawn_rate spawn_memory", keys, " ")
    split("caf erlang", peers, " ")
    for (p = 1; p <= 2; p++) {
      for (k = 1; k <= 4; k++) {
        t = keys[k]; o = peers[p] "_" t
        if (!(t in best) || !(o in best) || best[o] <= 0) continue
        w = t; sub(/_rate$/, "", w)
        printf "RESULT ratio_%s_vs_%s%s %.3f %s\n", w, peers[p], suffix, best[t] / best[o],
          lower_is_better(t) ? "x_lower_is_better" : "x"
      }
    }
  }
' "$RESULTS"

if ((${#FAILED[@]} > 0)); then
  die "failed: ${FAILED[*]}"
fi
