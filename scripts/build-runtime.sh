#!/usr/bin/env bash
# Builds the consortium runtime (chain/runtime, crate `custodia-runtime`: pallet-contracts of
# polkadot-sdk stable2409 with governance, Aura, GRANDPA and node authorization) to Wasm, with the
# contract toolchain from scripts/setup.sh.
# This does by hand what substrate-wasm-builder would do (it refuses the Debian toolchain):
# std built from source for wasm32, `--cfg substrate_runtime` and the builder's linker flags.
# Output: target/chain/runtime.wasm (about 5 MB). Cold: about 7 minutes on 2 cores, ~320 crates.
# Skips the build when the wrapper's sources and the flags are unchanged (a stamp of their digest).
#
# Usage: scripts/build-runtime.sh [--force]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

fail() { printf 'build-runtime: %s\n' "$*" >&2; exit 1; }

crate="$CUSTODIA_ROOT/chain/runtime"
out_dir="$CUSTODIA_ROOT/target/chain"
target_dir="$out_dir/runtime-build"
wasm="$out_dir/runtime.wasm"
stamp="$out_dir/.runtime-sources.sha256"
# What substrate-wasm-builder 24 passes for this runtime: an MVP Wasm (no sign-ext, no
# multivalue/reference-types of LLVM 19's default CPU, which the executors reject), the table
# and heap base exported, memory imported from the host; `substrate_runtime` makes sp-io
# provide the allocator and the panic handler.
flags="-C target-cpu=mvp -C target-feature=-sign-ext -C link-arg=--export-table"
flags+=" -C link-arg=--export=__heap_base -C link-arg=--import-memory --cfg substrate_runtime"

command -v rustup >/dev/null || fail "rustup not found: run scripts/setup.sh"
rustc_version="$(RUSTUP_TOOLCHAIN=$CONTRACT_TOOLCHAIN rustc --version 2>/dev/null)" \
  || fail "contract toolchain '$CONTRACT_TOOLCHAIN' missing: run scripts/setup.sh"
sysroot="$(RUSTUP_TOOLCHAIN=$CONTRACT_TOOLCHAIN rustc --print sysroot)"
[ -d "$sysroot/lib/rustlib/src/rust/library" ] \
  || fail "no Rust sources under $sysroot (package rust-web-src): run scripts/setup.sh"
command -v rust-lld >/dev/null || fail "rust-lld not on PATH: run scripts/setup.sh"

digest="$( (cd "$crate" && find Cargo.toml Cargo.lock src -type f -print0 | sort -z | xargs -0 sha256sum;
  echo "$flags"; echo "$rustc_version") | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" != --force ] && [ -f "$wasm" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
  echo "==> runtime Wasm up to date: $wasm"
  exit 0
fi

mkdir -p "$out_dir"
log="$out_dir/runtime-build.log"
echo "==> building the runtime Wasm (chain/runtime); cargo output in $log"
start=$SECONDS
# RUSTC_BOOTSTRAP: -Z build-std on a stable compiler, as substrate-wasm-builder does.
# --locked: exactly the committed Cargo.lock (polkadot-sdk stable2409's crate versions).
if ! (cd "$crate" && env -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS \
    RUSTUP_TOOLCHAIN="$CONTRACT_TOOLCHAIN" RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" \
    CARGO_TARGET_DIR="$target_dir" \
    cargo build --release --locked --target wasm32-unknown-unknown \
      -Z build-std=std,panic_abort) >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  fail "cargo build of the runtime failed (full output in $log)"
fi
built="$target_dir/wasm32-unknown-unknown/release/custodia_runtime.wasm"
[ -f "$built" ] || fail "cargo did not write $built"
cp "$built" "$wasm"
echo "$digest" > "$stamp"
elapsed=$((SECONDS - start))
printf '==> %s: %s bytes; %s crates compiled in %dm%02ds\n' "$wasm" "$(stat -c %s "$wasm")" \
  "$(grep -c '^ *Compiling ' "$log" || true)" $((elapsed / 60)) $((elapsed % 60))
