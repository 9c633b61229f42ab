#!/usr/bin/env bash
# package-test.sh - builds the Debian packages (scripts/package.sh, which
# also runs lintian), then installs them in a clean Debian 12 minbase root and
# checks them there (tests/packaging/install_checks.sh): the user troupe, the
# files, `director config check` as troupe, troupd run as troupe answering
# `director status`, an out-of-tree bundle built against libtroupe-dev loaded
# and asked, purge removing /var/lib/troupe, the user made both by adduser and
# by systemd-sysusers, `systemd-analyze verify` of the packaged unit.
#
#   bash scripts/package-test.sh       # as root; SKIP_BUILD=1 reuses build/pkg/debs
#
# The root is made once with debootstrap and cached as
# build/package-root/bookworm-minbase.tar (delete it to start over); each run
# unpacks a fresh copy, enters it with chroot in a private mount namespace
# (its own /proc, /dev, /sys, /tmp and an empty /run: no systemd runs there)
# and deletes it afterwards. apt-get in the root fetches the packages' Debian
# dependencies, and the compiler and CMake for the out-of-tree build. Works
# inside a chroot too (CI may run in one). Exit status: 0 when every check
# passed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "package-test: needs root (debootstrap, mount, chroot)" >&2
  exit 1
fi
build=${BUILD_DIR:-build/pkg}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  BUILD_DIR=$build bash scripts/package.sh
fi
shopt -s nullglob
debs=("$build"/debs/troupe_*.deb "$build"/debs/libtroupe-dev_*.deb)
if [[ ${#debs[@]} -ne 2 ]]; then
  echo "package-test: no troupe and libtroupe-dev .deb in $build/debs (run scripts/package.sh)" >&2
  exit 1
fi

cache=build/package-root
base=$cache/bookworm-minbase.tar
mkdir -p "$cache"
if [[ ! -s $base ]]; then
  echo "=== package-test: making a Debian 12 minbase root with debootstrap (once: $base)"
  staging=$(mktemp -d "$cache/debootstrap.XXXX")
  if ! debootstrap --variant=minbase bookworm "$staging" >"$cache/debootstrap.log" 2>&1; then
    echo "package-test: debootstrap failed, see $cache/debootstrap.log" >&2
    rm -rf "$staging"
    exit 1
  fi
  tar -C "$staging" -cf "$base.part" . && mv "$base.part" "$base"
  rm -rf "$staging"
fi

root=$(mktemp -d "$PWD/$cache/root.XXXX")
# The mounts below live in the namespace of the chroot's process only, so
# this removes plain files; it refuses to if one is still visible here.
remove_root() {
  if grep -q " $root/" /proc/self/mountinfo; then
    echo "package-test: mounts remain under $root; not deleting it" >&2
    return 1
  fi
  rm -rf "$root"
}
trap remove_root EXIT
tar -C "$root" -xf "$base"
chmod 755 "$root"  # after tar, which restores the mode of the archive's "." (mktemp's 0700)
mkdir -p "$root/pkgtest"
cp "${debs[@]}" tests/packaging/install_checks.sh "$root/pkgtest/"
cp -r tests/out_of_tree "$root/pkgtest/"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then  # this machine's mirror
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
  rm -f "$root/etc/apt/sources.list"
fi

# A private mount namespace, so nothing mounted for the root shows outside.
# Inside a chroot (CI may run in one) "/" is no mount point and its
# propagation cannot be changed; there the namespace around is private
# already (fresh-machine's unshare made it so) and is kept as it is.
propagation=private
if ! unshare --mount --propagation private true 2>/dev/null; then
  propagation=unchanged
fi
echo "=== package-test: install and check in $root (mount propagation: $propagation)"
unshare --mount --propagation "$propagation" --fork bash -c '
  r=$1
  mount --rbind /dev "$r/dev"
  mount -t proc proc "$r/proc"
  mount --rbind /sys "$r/sys"
  mount -t tmpfs tmpfs "$r/tmp"
  mount -t tmpfs -o mode=755 tmpfs "$r/run"
  exec chroot "$r" env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash /pkgtest/install_checks.sh' _ "$root"
