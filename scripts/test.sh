#!/usr/bin/env bash
# Runs every Custodia test: sets up the toolchains, builds the release bundles, then
#  1. `cargo test --workspace`: the contracts' unit tests (off chain), the integration tests
#     (the bundles in the real pallet-contracts runtime, in process), the client library and
#     CLI tests on the embedded chain, the FHIR tests;
#  2. the client's end-to-end suite over JSON-RPC against a local chain (the
#     substrate-contracts-node runtime under chopsticks, started here and stopped at the end).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/prepare.sh"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"
echo "==> cargo test --workspace"
cargo test --workspace --quiet

echo "==> end-to-end suite over JSON-RPC on a local chain"
started=""
if [ ! -f "$CUSTODIA_ROOT/target/chain/chain.pid" ]; then started=yes; fi
url="$("$here/chain-start.sh" | tail -1)"
if [ -n "$started" ]; then trap '"$here/chain-stop.sh"' EXIT; fi
# One test at a time: they share the chain's development accounts and their nonces.
CUSTODIA_NODE_URL="$url" cargo test --quiet -p custodia-client --features e2e --test node -- --test-threads=1
