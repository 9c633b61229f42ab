#!/usr/bin/env bash
# convention-demo.sh - the README's "Run a convention": three troupd daemons on
# this machine form a convention and an actor is placed by capability.
#
#   a  127.0.0.1:7101  the leader (no convleader)
#   b  127.0.0.1:7102  a member
#   c  127.0.0.1:7103  a member with the capability gpu = true (capabilities.json)
#
# Usage: bash scripts/convention-demo.sh [stop]
#
# Each daemon has its own TROUPE_DIR under build/demo-convention/ (made afresh:
# the script stops the daemons of an earlier run and removes that directory),
# all three share one convention key, and b and c accept bundles fetched from
# other members (allow_remote_actor_sources = yes). The examples bundle is
# signed and loaded on a only; `director create` on a asks for an Echo actor
# that needs a gpu, so it is placed on c, which fetches the bundle from a,
# verifies it against its own trusted keys and runs it. The script asks that
# actor, then prints `director status` of the leader. The daemons keep
# running; `bash scripts/convention-demo.sh stop` stops them.
#
# Builds what it needs in BUILD_DIR (default build/release; configured, with
# the Debian packages installed first, when it has no build tree yet).
# PORT_BASE (default 7100) moves the ports: PORT_BASE+1 to PORT_BASE+3.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build/release}"
root="$PWD/build/demo-convention"
director="$PWD/$BUILD_DIR/director/director"
names=(a b c)
base="${PORT_BASE:-7100}"
declare -A port=([a]=$((base + 1)) [b]=$((base + 2)) [c]=$((base + 3)))
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Stops every demo daemon still answering, members first.
stop_all() {
  for n in c b a; do
    if [ -S "$root/$n/run/troupd.sock" ]; then
      "$director" --dir "$root/$n" shutdown || true
    fi
  done
}

if [ "${1:-}" = stop ]; then
  stop_all
  exit 0
fi

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  bash scripts/install-deps.sh
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD_DIR" --target troupd director troupe_examples

if [ -d "$root" ]; then
  step "stop the daemons of an earlier run and start afresh"
  stop_all
  rm -rf "$root"
fi

step "three TROUPE_DIRs in $root, one convention key, one signing key"
for n in "${names[@]}"; do
  mkdir -p "$root/$n/config"
  chmod 700 "$root/$n"
  echo "127.0.0.1:${port[$n]}" > "$root/$n/config/listen_tcp"
done
for n in b c; do
  echo "127.0.0.1:${port[a]}" > "$root/$n/config/convleader"
  echo yes > "$root/$n/config/allow_remote_actor_sources"
done
echo '{"gpu": true}' > "$root/c/capabilities.json"
"$director" --dir "$root/a" keygen --convention
for n in b c; do
  mkdir -p "$root/$n/keys"
  chmod 700 "$root/$n/keys"
  cp -p "$root/a/keys/convention.key" "$root/$n/keys/convention.key"
done
"$director" --dir "$root/a" keygen demo
for n in "${names[@]}"; do
  "$director" --dir "$root/$n" trust "$root/a/keys/demo.pub"
done

step "start a (the leader), then b and c"
for n in "${names[@]}"; do
  "$director" --dir "$root/$n" start
done

step "wait until the leader lists all three"
formed=""
for _ in $(seq 1 50); do  # at most about 10 s
  if "$director" --dir "$root/a" convention | head -n 1 | grep -q ', 3 members'; then
    formed=yes
    break
  fi
  sleep 0.2
done
"$director" --dir "$root/a" convention | head -n 1
if [ -z "$formed" ]; then
  echo "the convention did not form within 10 s; see $root/*/run/troupd.log" >&2
  exit 1
fi

step "sign the examples bundle and load it on a only"
"$director" --dir "$root/a" gensrc --manifest plugins/examples_bundle/manifest.json \
  --lib "$BUILD_DIR/plugins/examples/troupe_examples.so" --key "$root/a/keys/demo.key" \
  --version 1.0
"$director" --dir "$root/a" load examples

step "create an Echo actor that needs a gpu, from a"
created=$("$director" --dir "$root/a" create examples examples.Echo \
  --requirements '[{"capability": "gpu", "equals": true}]')
echo "$created"
address=${created##* }

step "ask it (the reply comes from c, 127.0.0.1:${port[c]})"
"$director" --dir "$root/a" ask "$address" --type text --data "hello from a"

step "c fetched the bundle from a"
"$director" --dir "$root/c" list

step "director status on the leader (after c's next check-in)"
for _ in $(seq 1 25); do  # members report load and bundles every check-in (1 s)
  if "$director" --dir "$root/a" convention | grep -A2 "^  127.0.0.1:${port[c]}:" |
    grep -q 'bundles: examples'; then
    break
  fi
  sleep 0.2
done
"$director" --dir "$root/a" status

cat <<MSG

The three daemons keep running. Go on with, for example:
  $director --dir $root/b convention     # a member's view
  $director --dir $root/b capabilities gpu true
  $director --dir $root/a create examples examples.Echo --requirements '[{"capability": "gpu", "equals": true}]'
  ${BUILD_DIR:+BUILD_DIR=$BUILD_DIR }bash scripts/convention-demo.sh stop   # stop c, b, then a
Logs: $root/{a,b,c}/run/troupd.log
MSG
