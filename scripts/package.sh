#!/usr/bin/env bash
# package.sh - builds the Debian packages troupe and libtroupe-dev
# (cmake/TroupePackage.cmake, packaging/README.md) and runs lintian on them.
#
#   bash scripts/package.sh            # -> build/pkg/debs/{troupe,libtroupe-dev}_*.deb
#
# Configures BUILD_DIR (default build/pkg) as a RelWithDebInfo build (-O2,
# what the tests run on; cpack strips the binaries) installing under /usr.
# Not Release: GCC 12 at -O3 reports a false -Wrestrict in std::string, and
# the build keeps -Werror. Builds only what the packages hold (troupd, troupe-http,
# troupe-host, director, troupe_client, the generated completion and changelog), runs
# `cpack -G DEB` and then lintian, printing every tag. Exit status: 0, or 1
# when a step fails or lintian reports an error (warnings are printed, and
# listed with their reasons in packaging/README.md). Needs the packages of
# scripts/install-deps.sh; run scripts/package-test.sh to install the result
# in a clean Debian 12 root.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build/pkg}
jobs=${JOBS:-$(nproc)}
debs=$build/debs

cmake -S . -B "$build" -G Ninja -DTROUPE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_INSTALL_PREFIX=/usr
cmake --build "$build" -j "$jobs" --target troupd troupe-http troupe-host director troupe_client troupe_package_files

rm -rf "$debs"
mkdir -p "$debs"
(cd "$build" && cpack -G DEB -B "$PWD/debs")
rm -rf "$debs/_CPack_Packages"
shopt -s nullglob
built=("$debs"/*.deb)
if [[ ${#built[@]} -ne 2 ]]; then
  echo "package: expected 2 .deb files in $debs, found ${#built[@]}" >&2
  exit 1
fi

echo "=== lintian ${built[*]}"
# --fail-on error: warnings are reported, only errors fail.
if ! lintian --fail-on error --tag-display-limit 0 "${built[@]}"; then
  echo "package: lintian reported errors" >&2
  exit 1
fi
echo "package: lintian found no errors"
printf 'package: built %s\n' "${built[@]}"
