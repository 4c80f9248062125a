#!/usr/bin/env bash
# Proves the arm64 static binary is the same program as the x86_64 one: it
# runs both (the arm64 one under qemu-aarch64-static) and requires their
# `-version`, `simulate -json` and `simulate compare.json -json` output to be
# byte-identical. The decisions are integer arithmetic over the same inputs,
# so any difference is a bug (or a build of another revision).
#
# Usage: scripts/arm64-test.sh X86_64_BINARY ARM64_BINARY
# CI:    bash scripts/arm64-test.sh "$(make -s static-path)" "$(make -s static-path ARCH=arm64)"
#
# Exits non-zero, with a line starting "arm64-test: FAIL", if either binary
# is missing, the arm64 one is not a static aarch64 ELF, qemu-aarch64-static
# is missing, a run fails or prints nothing, or any output differs.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_TIMEOUT=120

fail() {
  echo "arm64-test: FAIL: $*" >&2
  exit 1
}

note() {
  echo "arm64-test: $*"
}

[ "$#" -eq 2 ] || fail "usage: $0 X86_64_BINARY ARM64_BINARY"
x86=$1
arm=$2
for binary in "$x86" "$arm"; do
  [ -x "$binary" ] || fail "$binary: no such executable (did 'make static' and 'make static ARCH=arm64' run?)"
done
command -v file >/dev/null 2>&1 || fail "file(1) is needed to check the binary (apt-get install file)"

description=$(file -L "$arm")
note "$description"
case "$description" in
  *"ARM aarch64"*) ;;
  *) fail "$arm is not an aarch64 ELF" ;;
esac
case "$description" in
  *"dynamically linked"* | *interpreter*) fail "$arm is dynamically linked" ;;
  *"statically linked"* | *"static-pie linked"*) ;;
  *) fail "file(1) does not say $arm is statically linked" ;;
esac
qemu=$(command -v qemu-aarch64-static) || fail "qemu-aarch64-static is needed (apt-get install qemu-user-static)"
note "size: x86_64 $(stat -c %s "$x86") bytes, arm64 $(stat -c %s "$arm") bytes"

work=$(mktemp -d "${TMPDIR:-/tmp}/memhpa-arm64-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Runs ARGS... with both binaries and compares stdout byte for byte. Each
# runs with an empty environment, so neither reads a RUST_LOG or a locale.
same_output() {
  local name=$1
  shift
  local status=0
  env -i timeout "$RUN_TIMEOUT" "$x86" "$@" >"$work/$name.x86" 2>"$work/$name.x86.err" || status=$?
  [ "$status" -eq 0 ] || { head -n 20 "$work/$name.x86.err" >&2; fail "x86_64 'memhpa $*' exited with status $status"; }
  env -i timeout "$RUN_TIMEOUT" "$qemu" "$arm" "$@" >"$work/$name.arm" 2>"$work/$name.arm.err" || status=$?
  [ "$status" -eq 0 ] || { head -n 20 "$work/$name.arm.err" >&2; fail "arm64 'memhpa $*' under qemu exited with status $status"; }
  [ -s "$work/$name.x86" ] || fail "'memhpa $*' printed nothing on stdout"
  if ! cmp -s "$work/$name.x86" "$work/$name.arm"; then
    diff "$work/$name.x86" "$work/$name.arm" | head -n 20 >&2 || true
    fail "'memhpa $*' differs between x86_64 and arm64"
  fi
  note "identical: 'memhpa $*' ($(wc -l <"$work/$name.x86") lines, $(stat -c %s "$work/$name.x86") bytes, sha256 $(sha256sum "$work/$name.x86" | cut -c1-16))"
}

same_output version -version
same_output simulate simulate -json
same_output compare simulate src/simulate/compare.json -json
note "PASS: $arm under qemu prints what $x86 prints"
