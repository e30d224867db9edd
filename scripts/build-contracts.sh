#!/usr/bin/env bash
# Builds every Custodia contract with `cargo contract build --release` (the contract toolchain
# from scripts/setup.sh) and puts the bundles in $CUSTODIA_BUNDLES (default target/bundles):
#   <name>.contract  code + metadata, what explorers and `cargo contract` read
#   <name>.wasm      the code alone
#   <name>.json      the metadata (ABI) alone
# Skips the build when no contract source changed since the last one (a stamp of their digest).
#
# Usage: scripts/build-contracts.sh [--force] [--floor]
#   --floor   build only the floor contract the figures compare against (issue 16; a test
#             fixture in tests/fixtures/floor, not part of the suite, so neither the tests nor
#             CI build it: cold, it costs about 3 minutes like any contract)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"

force=""
CONTRACTS=(directory records consents access_log)
sources=(contracts)
stamp_name=.sources.sha256
for arg in "$@"; do
  case "$arg" in
    --force) force=yes ;;
    --floor) CONTRACTS=(floor); sources=(tests/fixtures/floor); stamp_name=.floor.sha256 ;;
    *) printf 'build-contracts: unknown option %s\n' "$arg" >&2; exit 2 ;;
  esac
done
manifest() { if [ "$1" = floor ]; then echo tests/fixtures/floor/Cargo.toml; else echo "contracts/$1/Cargo.toml"; fi; }
# ink!'s static buffer holds a call's input and output: big enough for a batch of 1,000
# access-log entries (87 KB) and the consent checks they carry (119 KB); the default is
# 16 KiB. It takes its share of the contract's 1 MiB of memory (16 pages).
export INK_STATIC_BUFFER_SIZE=163840
# With that variable set, cargo-contract runs `cargo clean` on the target directory whenever a
# contract's previous metadata is missing: each contract gets a target directory of its own, so
# that one contract's first build never wipes another's (or the host's test build).

fail() { printf 'build-contracts: %s\n' "$*" >&2; exit 1; }
command -v cargo-contract >/dev/null || fail "cargo-contract is missing: run scripts/setup.sh"

stamp="$CUSTODIA_BUNDLES/$stamp_name"
digest="$( (find "${sources[@]}" -type f \( -name '*.rs' -o -name Cargo.toml \) -print0 | sort -z \
  | xargs -0 sha256sum; sha256sum Cargo.toml Cargo.lock 2>/dev/null; echo "$INK_STATIC_BUFFER_SIZE") \
  | sha256sum | cut -d' ' -f1)"
if [ -z "$force" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
  all_there=1
  for c in "${CONTRACTS[@]}"; do
    for ext in contract wasm json; do [ -f "$CUSTODIA_BUNDLES/$c.$ext" ] || all_there=0; done
  done
  if [ "$all_there" = 1 ]; then
    echo "==> contract bundles up to date in $CUSTODIA_BUNDLES"
    exit 0
  fi
fi

mkdir -p "$CUSTODIA_BUNDLES"
for c in "${CONTRACTS[@]}"; do
  echo "==> cargo contract build --release: $c"
  target="$CUSTODIA_ROOT/target/contracts/$c"
  CARGO_TARGET_DIR="$target" RUSTUP_TOOLCHAIN="$CONTRACT_TOOLCHAIN" cargo contract build --release --quiet \
    --manifest-path "$(manifest "$c")" \
    || fail "building contract $c failed"
  out="$target/ink/$c"
  for ext in contract wasm json; do
    [ -f "$out/$c.$ext" ] || fail "cargo-contract did not write $out/$c.$ext"
    cp "$out/$c.$ext" "$CUSTODIA_BUNDLES/"
  done
  printf '    %s.wasm: %s bytes\n' "$c" "$(stat -c %s "$CUSTODIA_BUNDLES/$c.wasm")"
done
echo "$digest" > "$stamp"
echo "==> bundles in $CUSTODIA_BUNDLES"
