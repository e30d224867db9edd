#!/usr/bin/env bash
# Runs every Custodia test: sets up the toolchains, builds the release bundles, then
#  1. the lints (scripts/lint.sh: shellcheck, rustfmt, clippy, rustdoc);
#  2. `cargo test --workspace`: the contracts' unit tests (off chain), the integration tests
#     (the bundles in the real pallet-contracts runtime, in process), the client, services and
#     CLI tests on the embedded chain, the FHIR tests;
#  3. the examples (one task each), run as a user would; the libFuzzer targets (scripts/fuzz.sh,
#     bounded);
#  4. `custodia sync`, `fhir verify --server` and the gateway (`custodia gateway`, in process and
#     as a process killed under load) against real Helios HFS servers (its debug build,
#     installed by scripts/setup.sh; each test starts its own with scripts/hfs-start.sh); the
#     patient explorer's page in Debian's Chromium, headless (puppeteer-core, axe-core), and
#     its proof checker against custodia-merkle's vectors in Node.js;
#  5. the end-to-end suites over JSON-RPC against the local chain (the consortium runtime,
#     chain/runtime, under chopsticks, started here and stopped at the end; every deployment goes
#     through its council), then every contract event those suites emitted decoded with
#     @polkadot/api-contract 16.5.6 (every type at least once).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/prepare.sh"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"
"$here/lint.sh"

echo "==> cargo test --workspace"
cargo test --workspace --quiet

for example in records_commit_and_verify consents_grant_and_check access_log_and_prove fhir_import_bundle; do
  echo "==> example $example"
  cargo run --quiet -p custodia-services --example "$example"
done

# Coverage-guided fuzzing of the FHIR reader and canonical form, bounded (scripts/fuzz.sh).
"$here/fuzz.sh"

echo "==> the page's proof checker (merkle.js) against custodia-merkle's vectors, in Node.js"
node --test services/src/explorer/page/merkle.test.mjs

echo "==> the sync follower, server verification and the gateway against Helios HFS; the"
echo "    patient explorer in Debian's Chromium, headless"
export CUSTODIA_HFS_PROFILE=debug
"$here/explorer-assets.sh"  # scripts/browser's packages, and the page's polkadot.js bundle
cargo test --quiet -p custodia-cli --features hfs,browser --test sync --test gateway --test explorer
cargo test --quiet -p custodia-tests --features hfs --test sync_faults --test gateway

echo "==> end-to-end suites over JSON-RPC on the local consortium chain"
started=""
if [ ! -f "$CUSTODIA_ROOT/target/chain/chain.pid" ]; then started=yes; fi
url="$("$here/chain-start.sh" | tail -1)"
if [ -n "$started" ]; then trap '"$here/chain-stop.sh"' EXIT; fi
# One test at a time: they share the chain's development accounts and their nonces.
export CUSTODIA_NODE_URL="$url"
# The consortium runtime as polkadot.js sees it (no sudo; treasury-only transfers).
node "$here/chain/check.mjs" "$url"
cargo test --quiet -p custodia-tests --features e2e --test client_node --test consortium -- --test-threads=1
cargo test --quiet -p custodia-cli --features e2e,hfs,browser --test node --test gateway_node --test explorer_node
# Every contract event the suites emitted decodes, field by field, with @polkadot/api-contract
# (what polkadot.js Apps, Contracts UI and indexers read) and with `cargo contract decode
# event`: issue 14 §1.
echo "==> every contract event on the chain, decoded with @polkadot/api-contract and cargo contract"
node "$here/chain/decode-events.mjs" "$url" "$CUSTODIA_ROOT/target/bundles" --require-all --cargo-contract "$CUSTODIA_ROOT"
