#!/usr/bin/env bash
# Proves the scratch image works: it runs `-version` and `simulate` inside the
# image (a buildah container, chroot isolation), checks its OCI labels and
# platform, and prints its size.
#
# Usage: scripts/image-test.sh IMAGE [ARCH]
# CI:    make docker-build && bash scripts/image-test.sh memhpa:VERSION
#
# ARCH (amd64 by default) is the platform the image must say it is for. An
# arm64 image runs here too where binfmt_misc hands aarch64 binaries to
# qemu-aarch64-static.
#
# Exits non-zero, with a line starting "image-test: FAIL", if buildah is
# missing, the image is absent or mislabelled, or either run fails or prints
# nothing on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_TIMEOUT=60

fail() {
  echo "image-test: FAIL: $*" >&2
  exit 1
}

note() {
  echo "image-test: $*"
}

[ "$#" -ge 1 ] && [ "$#" -le 2 ] || fail "usage: $0 IMAGE [ARCH]"
image=$1
arch=${2:-amd64}
command -v buildah >/dev/null 2>&1 || fail "buildah is needed (apt-get install buildah)"
buildah=(buildah --storage-driver "${BUILDAH_STORAGE_DRIVER:-vfs}")
isolation=${BUILDAH_ISOLATION:-chroot}

"${buildah[@]}" inspect --type image "$image" >/dev/null 2>&1 || fail "no image $image (did 'make docker-build' run?)"

# The labels must say what Cargo.toml says, or a registry would show a wrong
# version or licence.
label() {
  "${buildah[@]}" inspect --type image --format "{{index .OCIv1.Config.Labels \"$1\"}}" "$image"
}
want_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
want_license=$(sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
version=$(label org.opencontainers.image.version)
license=$(label org.opencontainers.image.licenses)
[ "$version" = "$want_version" ] || fail "label org.opencontainers.image.version is '$version', Cargo.toml says '$want_version'"
[ "$license" = "$want_license" ] || fail "label org.opencontainers.image.licenses is '$license', Cargo.toml says '$want_license'"
note "labels: version $version, licenses $license, source '$(label org.opencontainers.image.source)', revision '$(label org.opencontainers.image.revision)'"
platform=$("${buildah[@]}" inspect --type image --format '{{.OCIv1.OS}}/{{.OCIv1.Architecture}}' "$image")
[ "$platform" = "linux/$arch" ] || fail "the image is for $platform, not linux/$arch"
note "platform: $platform"

container=$("${buildah[@]}" from --quiet "$image") || fail "buildah from $image failed"
out=$(mktemp "${TMPDIR:-/tmp}/memhpa-image-test.XXXXXX")
trap '"${buildah[@]}" rm "$container" >/dev/null 2>&1 || true; rm -f "$out" "$out.err"' EXIT

# Runs /memhpa ARGS... inside the image, as its USER, with no environment but
# what the image sets.
run_in_image() {
  local status=0
  timeout "$RUN_TIMEOUT" "${buildah[@]}" run --isolation "$isolation" "$container" -- /memhpa "$@" \
    >"$out" 2>"$out.err" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "--- stdout of 'memhpa $*' ---" >&2
    head -n 40 "$out" >&2 || true
    echo "--- stderr of 'memhpa $*' ---" >&2
    head -n 40 "$out.err" >&2 || true
    fail "'memhpa $*' in $image exited with status $status"
  fi
  [ -s "$out" ] || { head -n 40 "$out.err" >&2 || true; fail "'memhpa $*' in $image printed nothing on stdout"; }
  note "ok: 'memhpa $*' in the image ($(wc -l <"$out") lines): $(head -n 1 "$out")"
}

run_in_image -version
grep -qF "$want_version" "$out" || fail "'memhpa -version' in the image does not name version $want_version: $(head -n 1 "$out")"
run_in_image simulate
grep -q 'replicas' "$out" || fail "'memhpa simulate' in the image printed no table"

size=$("${buildah[@]}" images --format '{{.Size}}' "$image" | head -n 1)
note "size of $image: $size"
note "PASS: $image runs -version and simulate"
