#!/usr/bin/env bash
# Proves the static memhpa binary needs nothing from a filesystem: no libc, no
# /etc, no /proc, no CA bundle, no timezone data. It runs `-version` and
# `simulate` with the binary alone in an empty root directory, as it will be in
# the scratch image.
#
# Usage: scripts/empty-root-test.sh BINARY
# CI:    bash scripts/empty-root-test.sh "$(make -s static-path)"
#
# Exits non-zero, with a line starting "empty-root-test: FAIL", if the binary is
# missing or dynamically linked, if no way to enter an empty root works here,
# or if either run fails or prints nothing on stdout.
set -euo pipefail

RUN_TIMEOUT=60

fail() {
  echo "empty-root-test: FAIL: $*" >&2
  exit 1
}

note() {
  echo "empty-root-test: $*"
}

[ "$#" -eq 1 ] || fail "usage: $0 BINARY"
binary=$1
[ -f "$binary" ] || fail "$binary: no such file (did 'make static' run?)"
[ -x "$binary" ] || fail "$binary: not executable"

command -v file >/dev/null 2>&1 || fail "file(1) is needed to check the linkage (apt-get install file)"
description=$(file -L "$binary")
note "$description"
case "$description" in
  *ELF*) ;;
  *) fail "$binary is not an ELF executable" ;;
esac
case "$description" in
  *"dynamically linked"* | *interpreter*)
    fail "$binary is dynamically linked; it would not start from a scratch image" ;;
  *"statically linked"* | *"static-pie linked"*) ;;
  *) fail "file(1) does not say $binary is statically linked" ;;
esac
note "size: $(stat -c %s "$binary") bytes"

root=$(mktemp -d "${TMPDIR:-/tmp}/memhpa-empty-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
cp "$binary" "$root/memhpa"
chmod 0755 "$root/memhpa"

# Absolute paths, because the runs below start with an empty environment.
chroot_bin=$(command -v chroot) || fail "chroot(8) is needed (coreutils)"
timeout_bin=$(command -v timeout) || fail "timeout(1) is needed (coreutils)"
unshare_bin=$(command -v unshare || true)

# Prefer an unprivileged user namespace (`unshare -r`); fall back to a plain
# chroot when we are root and user namespaces are off (as in some containers).
# The probe chroots to / so it tests the mechanism, not the binary.
if [ -n "$unshare_bin" ] && "$unshare_bin" -r "$chroot_bin" / true >/dev/null 2>&1; then
  enter=("$unshare_bin" -r "$chroot_bin" "$root")
  note "entering the empty root with: unshare -r chroot"
elif [ "$(id -u)" -eq 0 ]; then
  enter=("$chroot_bin" "$root")
  note "unshare -r is not available here; entering the empty root with plain chroot as root"
else
  fail "cannot enter an empty root: 'unshare -r' fails (no user namespaces?) and we are not root for chroot"
fi

# Runs /memhpa ARGS... inside the empty root with an empty environment.
run_in_empty_root() {
  local name=$1
  shift
  local out="$root.$name.out" err="$root.$name.err"
  local status=0
  env -i "$timeout_bin" "$RUN_TIMEOUT" "${enter[@]}" /memhpa "$@" >"$out" 2>"$err" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "--- stdout of 'memhpa $*' ---" >&2
    head -n 40 "$out" >&2 || true
    echo "--- stderr of 'memhpa $*' ---" >&2
    head -n 40 "$err" >&2 || true
    rm -f "$out" "$err"
    fail "'memhpa $*' in an empty root exited with status $status"
  fi
  if [ ! -s "$out" ]; then
    head -n 40 "$err" >&2 || true
    rm -f "$out" "$err"
    fail "'memhpa $*' in an empty root printed nothing on stdout"
  fi
  note "ok: 'memhpa $*' ($(wc -l <"$out") lines): $(head -n 1 "$out")"
  rm -f "$out" "$err"
}

run_in_empty_root version -version
run_in_empty_root simulate simulate
note "PASS: $binary runs with nothing else in its root"
