#!/usr/bin/env bash
# install-deps.sh - installs every Debian 12 package Troupe builds, tests and
# benchmarks with. Safe to run any number of times. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config clang-format
  # clang + libFuzzer for the fuzz targets (tests/fuzz/)
  clang libclang-rt-14-dev
  # libraries (DESIGN.md decision 1)
  libabsl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsodium-dev libzip-dev zipcmp zipmerge ziptool libcli11-dev
  # JSON for the daemon and director (header-only; plugins use sdk/include/troupe/json.h)
  nlohmann-json3-dev
  # the HTTP API (daemon/http/: troupe-http) and curl for its README walkthroughs
  libcpp-httplib-dev libssl-dev curl
  # the seccomp allowlist of isolated hosts (daemon/confinement/)
  libseccomp-dev
  # the Python client (sdk/python/) and its tests, on Debian's /usr/bin/python3
  python3 python3-grpcio python3-protobuf python3-pytest
  # tests and benchmarks (systemd: systemd-analyze verify in tests/systemd/;
  # openssl: test certificates in tests/peerauth/)
  libgtest-dev libgmock-dev libbenchmark-dev systemd openssl
  # peer actor systems for tests/bench/run_peers.sh
  libcaf-dev erlang-base
  # Debian packages (scripts/package.sh: cpack's dpkg-shlibdeps, lintian) and
  # the clean Debian 12 root they are tested in (scripts/package-test.sh)
  dpkg-dev lintian debootstrap
)

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
