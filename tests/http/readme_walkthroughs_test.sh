#!/usr/bin/env bash
# readme_walkthroughs_test.sh - runs the curl walkthroughs of the root
# README.md (the sh blocks between the http-walkthrough markers), exactly as
# written, against a real troupd with its HTTP API, and checks what they
# printed. Run by ctest (tests/http/CMakeLists.txt):
#   readme_walkthroughs_test.sh README TROUPD DIRECTOR BUNDLE PUBLIC_KEY
set -euo pipefail
readme=$1 troupd=$2 director=$3 bundle=$4 public_key=$5

work=$(mktemp -d)
troupd_pid=
cleanup() {
  if [ -n "$troupd_pid" ]; then
    kill -TERM "$troupd_pid" 2>/dev/null || true
    wait "$troupd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- troupd log:" >&2; cat "$work/troupd.log" >&2; exit 1; }

export TROUPE_DIR=$work/troupe
mkdir -p "$TROUPE_DIR/config"
echo 5 > "$TROUPE_DIR/config/drain_timeout_seconds"
"$director" trust "$public_key" >/dev/null
"$troupd" --listen-http 127.0.0.1:0 --die-with-parent >"$work/troupd.log" 2>&1 &
troupd_pid=$!

# The HTTP listener, once troupd reports it (bounded: 30 s).
deadline=$((SECONDS + 30))
address=
while [ -z "$address" ]; do
  [ $SECONDS -lt $deadline ] || fail "no HTTP listener within 30 s"
  kill -0 "$troupd_pid" 2>/dev/null || fail "troupd exited"
  address=$("$director" status 2>/dev/null | sed -n 's|.*http://\([0-9.:]*\) (token).*|\1|p' || true)
done
export TROUPE_URL=http://$address
export AUTH="Authorization: Bearer $(cat "$TROUPE_DIR/keys/client.token")"
export BUNDLE=$bundle

# The README's walkthrough blocks, as written.
sed -n '/<!-- http-walkthrough:begin -->/,/<!-- http-walkthrough:end -->/p' "$readme" |
  awk '/^```sh$/ {inside=1; next} /^```$/ {inside=0; next} inside' >"$work/walkthrough.sh"
[ -s "$work/walkthrough.sh" ] || fail "no walkthrough blocks between the markers in $readme"
timeout 120 bash -euo pipefail "$work/walkthrough.sh" >"$work/out.txt" 2>&1 ||
  { cat "$work/out.txt"; fail "a walkthrough command failed"; }

expect() {
  grep -qF -- "$1" "$work/out.txt" || { cat "$work/out.txt"; fail "the output lacks: $1"; }
}
expect '"group":"examples"'                 # the bundle was loaded
expect 'hello over HTTP'                    # the sync ask's reply
expect '"result":"7"'                       # the execution saw both increments
expect '"text":"count is now 7"'            # the actor's logs
expect 'Troupe-Message-Type: json'          # TARP-style typed reply
expect '{"n": 42}'
expect '"result":"later"'                   # the polled handle
echo "README walkthroughs: all commands ran; every expected answer seen"
