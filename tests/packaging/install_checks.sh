#!/usr/bin/env bash
# install_checks.sh - the checks of scripts/package-test.sh. Runs as root
# inside a clean Debian 12 minbase root where no systemd runs, with the two
# .deb files and tests/out_of_tree/ in /pkgtest. Installs the packages (apt
# fetches their Debian dependencies), checks the user, the files and the
# directory, runs troupd as `troupe` the way troupd.service does, builds the
# out-of-tree projects against /usr, loads the bundle one of them made into
# that troupd and asks its actor, then purges. The user is made by adduser
# first (minbase has no systemd-sysusers), then, after systemd is installed,
# by systemd-sysusers from the shipped sysusers.d file. Prints one "ok:" line
# per check; the first failure prints "FAIL: ..." and exits 1.
set -euo pipefail
cd /pkgtest
export DEBIAN_FRONTEND=noninteractive TERM=dumb

troupd_pid=
stop_troupd() {
  if [[ -n $troupd_pid ]] && kill -0 "$troupd_pid" 2>/dev/null; then
    kill -TERM "$troupd_pid"
    wait "$troupd_pid" || true
  fi
  troupd_pid=
}
trap stop_troupd EXIT
fail() {
  echo "package-test: FAIL: $*" >&2
  exit 1
}
ok() { echo "package-test: ok: $*"; }
# as_troupe CMD...: CMD as the user troupe, with the unit's environment.
as_troupe() {
  setpriv --reuid=troupe --regid=troupe --init-groups env -i PATH=/usr/bin:/bin \
    TROUPE_DIR=/var/lib/troupe "$@"
}
apt_install() {  # apt_install WHAT...: quiet, but the log on failure
  if ! apt-get install -y -qq --no-install-recommends "$@" >/tmp/apt.log 2>&1; then
    cat /tmp/apt.log >&2
    fail "apt-get install $*"
  fi
}
owner_and_mode() { stat -c '%U:%G %a' "$1"; }

check_installed_troupe() {  # check_installed_troupe HOW_THE_USER_WAS_MADE
  local entry
  entry=$(getent passwd troupe) || fail "no user troupe after installing troupe ($1)"
  IFS=: read -r _ _ uid _ gecos home shell <<<"$entry"
  ((uid < 1000)) || fail "troupe is not a system user (uid $uid)"
  [[ $home == /var/lib/troupe ]] || fail "troupe's home is $home, not /var/lib/troupe"
  [[ $shell == */nologin ]] || fail "troupe's shell is $shell, not nologin"
  getent group troupe >/dev/null || fail "no group troupe"
  ok "system user troupe (uid $uid, '$gecos', $shell), made by $1"
  [[ $(owner_and_mode /var/lib/troupe) == "troupe:troupe 755" ]] ||
    fail "/var/lib/troupe is $(owner_and_mode /var/lib/troupe), want troupe:troupe 755"
  [[ $(cat /var/lib/troupe/config/socket) == /run/troupe/troupd.sock ]] ||
    fail "config/socket is '$(cat /var/lib/troupe/config/socket)'"
  ok "/var/lib/troupe is troupe's (755), socket setting /run/troupe/troupd.sock"
  local unit=/lib/systemd/system/troupd.service
  for f in /usr/bin/troupd /usr/bin/director /usr/bin/troupe-http /usr/bin/troupe-host $unit /usr/lib/sysusers.d/troupe.conf \
           /usr/share/bash-completion/completions/director /usr/share/doc/troupe/copyright; do
    [[ -e $f ]] || fail "troupe installed no $f"
  done
  grep -qx 'User=troupe' $unit || fail "$unit has no User=troupe"
  grep -qx 'ExecStart=/usr/bin/troupd' $unit || fail "$unit does not run /usr/bin/troupd"
  grep -qx 'Environment=TROUPE_DIR=/var/lib/troupe' $unit || fail "$unit: TROUPE_DIR"
  ok "files in place; the unit runs /usr/bin/troupd as troupe"
}

check_purged() {
  [[ ! -e /var/lib/troupe ]] || fail "/var/lib/troupe is still there after purge"
  [[ ! -e /lib/systemd/system/troupd.service ]] || fail "the unit is still there after purge"
  getent passwd troupe >/dev/null || fail "purge removed the user (policy: it stays)"
  ok "purge removed /var/lib/troupe and the unit; the user troupe stays"
}

echo "=== install troupe (no systemd in this root: adduser makes the user)"
apt-get update -qq
apt_install ./troupe_*.deb
check_installed_troupe adduser
as_troupe director config check >/tmp/check.out 2>&1 || {
  cat /tmp/check.out >&2
  fail "director config check as troupe"
}
ok "director config check passes as troupe against /var/lib/troupe"
# The completion script loads and completes.
words=$(bash -c 'source /usr/share/bash-completion/completions/director &&
  COMP_WORDS=(director loa) COMP_CWORD=1 && _director && echo "${COMPREPLY[*]}"')
[[ $words == load ]] || fail "completing 'director loa' offered '$words', not load"
ok "bash completion: 'director loa' -> load"

echo "=== install libtroupe-dev; build tests/out_of_tree against /usr"
apt_install ./libtroupe-dev_*.deb g++ cmake ninja-build
cmake -S out_of_tree/client_project -B /tmp/client_project -G Ninja >/tmp/build.log 2>&1 &&
  cmake --build /tmp/client_project >>/tmp/build.log 2>&1 ||
  { cat /tmp/build.log >&2; fail "client_project did not build against /usr"; }
/tmp/client_project/client_check || fail "client_check"
ok "client_project built against /usr and ran"
cmake -S out_of_tree/hello_project -B /tmp/hello_project -G Ninja >/tmp/build.log 2>&1 &&
  cmake --build /tmp/hello_project >>/tmp/build.log 2>&1 ||
  { cat /tmp/build.log >&2; fail "hello_project did not build against /usr"; }
bundle=/tmp/hello_project/greeter-1.0.troupe
[[ -f $bundle ]] || fail "hello_project made no $bundle"
ok "hello_project built $bundle with troupe_add_bundle"

echo "=== troupd as troupe, as troupd.service runs it"
as_troupe director trust /tmp/hello_project/troupe-keys/build.pub >/dev/null ||
  fail "director trust as troupe"
as_troupe sh -c 'umask 022 && echo 127.0.0.1:18089 > /var/lib/troupe/config/listen_http'
as_troupe director config check >/dev/null || fail "director config check after trust"
# RuntimeDirectory=troupe of the unit: systemd makes /run/troupe for the user.
install -d -o troupe -g troupe -m 0755 /run/troupe
(umask 0077 && exec setpriv --reuid=troupe --regid=troupe --init-groups env -i \
  PATH=/usr/bin:/bin TROUPE_DIR=/var/lib/troupe /usr/bin/troupd) >/tmp/troupd.log 2>&1 &
troupd_pid=$!
deadline=$((SECONDS + 30))
# As root: director finds the socket through /var/lib/troupe/config/socket.
until director status >/tmp/status.out 2>&1; do
  kill -0 "$troupd_pid" 2>/dev/null || { cat /tmp/troupd.log >&2; fail "troupd exited"; }
  ((SECONDS < deadline)) || { cat /tmp/troupd.log >&2; fail "no answer from troupd in 30 s"; }
  sleep 0.1
done
grep -q '^troupd ' /tmp/status.out || fail "director status printed: $(cat /tmp/status.out)"
uid=$(awk '/^Uid:/ {print $2}' "/proc/$troupd_pid/status")
[[ $uid == "$(id -u troupe)" ]] || fail "troupd runs as uid $uid, not troupe"
[[ -S /run/troupe/troupd.sock ]] || fail "no socket /run/troupe/troupd.sock"
ok "troupd runs as troupe; director status (as root) answers: $(head -1 /tmp/status.out)"
as_troupe director status >/dev/null || fail "director status as troupe"
# listen_http: troupd runs the HTTP API (troupe-http, installed beside it).
health=
deadline=$((SECONDS + 30))
until [[ $health == *'"status":"ok"'* ]]; do
  ((SECONDS < deadline)) || { cat /tmp/troupd.log >&2; fail "no HTTP API on 127.0.0.1:18089"; }
  health=$(exec 3<>/dev/tcp/127.0.0.1/18089 && printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 &&
           cat <&3) 2>/dev/null || true
done
ok "troupd runs the HTTP API: GET /healthz answered"
director load "$bundle" >/tmp/load.out 2>&1 || { cat /tmp/load.out >&2; fail "director load"; }
reply=$(director ask greeter --type greet --data world --raw) || fail "director ask greeter"
[[ $reply == "hello, world" ]] || fail "greeter answered '$reply'"
ok "loaded the out-of-tree bundle into the packaged troupd; greeter answered '$reply'"
as_troupe director shutdown >/tmp/shutdown.out 2>&1 || { cat /tmp/shutdown.out >&2; fail "shutdown"; }
wait "$troupd_pid" || fail "troupd exited with status $?"
troupd_pid=
ok "director shutdown stopped troupd (exit 0)"

echo "=== purge"
apt-get purge -y -qq libtroupe-dev troupe >/tmp/apt.log 2>&1 || { cat /tmp/apt.log >&2; fail purge; }
check_purged

echo "=== again with systemd installed: systemd-sysusers makes the user"
userdel troupe
getent group troupe >/dev/null && groupdel troupe
apt_install systemd
apt_install ./troupe_*.deb
check_installed_troupe systemd-sysusers
[[ -L /etc/systemd/system/multi-user.target.wants/troupd.service ]] ||
  fail "postinst did not enable troupd.service"
ok "postinst enabled troupd.service (not started: systemd does not run here)"
systemd-analyze verify /lib/systemd/system/troupd.service >/tmp/verify.out 2>&1 ||
  { cat /tmp/verify.out >&2; fail "systemd-analyze verify troupd.service"; }
ok "systemd-analyze verify accepts the packaged unit"
apt-get purge -y -qq troupe >/tmp/apt.log 2>&1 || { cat /tmp/apt.log >&2; fail purge; }
check_purged
[[ ! -e /etc/systemd/system/multi-user.target.wants/troupd.service ]] ||
  fail "purge left the enablement symlink"
ok "purge removed the enablement symlink"
echo "package-test: all checks passed"
