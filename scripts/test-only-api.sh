#!/usr/bin/env bash
# Lists the library's API that only tests use: what the compiler would call
# dead code if the integration tests were not a second client of the crate.
#
# The top-level modules stay `pub` because tests/ and examples/ drive them
# (the fake API server, the fuzzer, the soak); that hides such code from the
# dead-code lint. This builds a copy of the crate in which every module the
# binary does not name is private, and prints what rustc then finds unused.
# Each line is a place to look: delete it, move it under #[cfg(test)], or
# keep it as deliberate test-facing API.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r Cargo.toml Cargo.lock src "$work/"
# The modules main.rs reaches stay public; the rest become private.
used="$(grep -oE 'memhpa::[a-z_0-9]+' src/main.rs | sort -u | sed 's/memhpa:://')"
while read -r module; do
  if ! grep -qx "$module" <<<"$used"; then
    sed -i "s/^pub mod $module;/mod $module;/" "$work/src/lib.rs"
  fi
done < <(sed -n 's/^pub mod \([a-z_0-9]*\);/\1/p' src/lib.rs)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/test-only-api}"
(cd "$work" && cargo check --quiet --lib --bins --message-format short 2>&1) |
  grep -E '^src/.*warning: .*(never used|never read|never constructed|unused import)' |
  sed "s|^|  |" | sort || true
