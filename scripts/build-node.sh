#!/usr/bin/env bash
# Builds the consortium's node (chain/node, crate `custodia-node`: Aura, GRANDPA, the consortium
# runtime, libp2p networking) into the per-user tools directory, outside the clone, so a fresh
# clone finds it. Heavy: ~930 crates (wasmtime, libp2p, the Substrate client) on 2 cores, so it
# is not part of .ci/run; scripts/network.sh needs it. Skipped when the binary was built from the
# same node and runtime sources (a stamp of their digest). Compiler: the machine's rustup
# toolchain, as the workspace (the lock's newest crates want rustc 1.88 or later, so not the
# contract toolchain's 1.85). Needs protoc (Debian's protobuf-compiler, installed here if
# missing) for the networking crates' schemas.
#
# Usage: scripts/build-node.sh [--force]
#   The last line on stdout is the binary's path:  node=$(scripts/build-node.sh | tail -1)
#   Build log: $CUSTODIA_TOOLS/node/build.log
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

fail() { printf 'build-node: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }

root="$CUSTODIA_TOOLS/node"
binary="$root/bin/custodia-node"
stamp="$root/.sources.sha256"
log="$root/build.log"
crates="$CUSTODIA_ROOT/chain"

rustc_version="$(rustc --version 2>/dev/null)" || fail "no rustc: the machine's rustup toolchain is missing"
digest="$( (cd "$crates" && find node/Cargo.toml node/Cargo.lock node/src runtime/Cargo.toml runtime/src \
  -type f -print0 | sort -z | xargs -0 sha256sum; echo "$rustc_version") | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" != --force ] && [ -x "$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ]; then
  say "node up to date: $binary"
  echo "$binary"
  exit 0
fi

if ! command -v protoc >/dev/null; then
  say "installing protoc (Debian's protobuf-compiler)"
  if [ "$(id -u)" -eq 0 ]; then apt=(); else apt=(sudo); fi
  "${apt[@]}" apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null \
    || fail "apt-get install protobuf-compiler failed"
fi

mkdir -p "$root/bin"
say "building the node (chain/node; ~930 crates, an hour or more on 2 cores); cargo output in $log"
start=$SECONDS
# --locked: exactly the committed Cargo.lock (stable2409's client crates; core2 0.4.0, which
# litep2p needs and crates.io has yanked, is pinned there).
if ! (cd "$crates/node" && env -u CARGO_ENCODED_RUSTFLAGS -u RUSTFLAGS CARGO_TARGET_DIR="$root/target" \
    cargo build --release --locked) >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  fail "cargo build of the node failed after $((SECONDS - start)) s (full output in $log)"
fi
cp "$root/target/release/custodia-node" "$binary"
echo "$digest" > "$stamp"
elapsed=$((SECONDS - start))
say "$binary: $(grep -c '^ *Compiling ' "$log" || true) crates compiled in $((elapsed / 60)) m $((elapsed % 60)) s"
echo "$binary"
