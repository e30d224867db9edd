#!/usr/bin/env bash
# Prints the figures the README reports (Wasm sizes; gas and storage deposit per call), measured
# in the in-process pallet-contracts runtime. Sets up and builds what it needs first.
#
# Usage: scripts/figures.sh [--chain | --gateway]
#   --chain     only the contract figures, in the sandbox and as extrinsics on the local chain
#               (started here if it is not running, stopped at the end if started here), next
#               to the floor contract and System::remark_with_event measured in the same run
#   --sync      only the sync follower on the local chain (issue 12): a fresh HFS debug build
#               loaded with the fixture patients and followed into a fresh deployment on the
#               local chain (started here if needed), then 20 writes/s for 60 s and their lag
#   --gateway   only the gateway's figures (issue 13): reads through the gateway against reads
#               straight from the FHIR server, on the embedded chain and on a fresh local chain
#               (started here and stopped at the end); a fresh HFS debug build each time
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/prepare.sh" >&2
"$here/build-contracts.sh" --floor >&2
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"

# A fresh HFS (debug build) in a temporary data directory, stopped at exit; sets hfs_url.
fresh_hfs() {
  local data
  data="$(mktemp -d)"
  hfs_dirs+=("$data")
  hfs_url="$(CUSTODIA_HFS_PROFILE=debug "$here/hfs-start.sh" --data "$data" 2>/dev/null | tail -1)"
}
hfs_dirs=()
chain_started=""
cleanup() {
  for data in "${hfs_dirs[@]}"; do "$here/hfs-stop.sh" --data "$data" >/dev/null 2>&1 || true; rm -rf "$data"; done
  if [ -n "$chain_started" ]; then "$here/chain-stop.sh" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if [ "${1:-}" = "--chain" ]; then
  if [ ! -f "$CUSTODIA_ROOT/target/chain/chain.pid" ]; then chain_started=yes; fi
  node="$("$here/chain-start.sh" | tail -1)"
  cargo run --quiet -p custodia-tests --bin figures -- --chain "$node"
  exit 0
fi

if [ "${1:-}" = "--sync" ]; then
  "$here/hfs-install.sh" --debug >/dev/null
  cargo build --quiet -p custodia-services --example sync_lag
  if [ ! -f "$CUSTODIA_ROOT/target/chain/chain.pid" ]; then chain_started=yes; fi
  node="$("$here/chain-start.sh" | tail -1)"
  echo "## FHIR server -> local chain (the bulk load, then 20 writes/s for 60 s)"
  echo
  fresh_hfs
  cargo run --quiet -p custodia-services --example sync_lag -- "$hfs_url" "$node" 20 60
  exit 0
fi

if [ "${1:-}" = "--gateway" ]; then
  "$here/hfs-install.sh" --debug >/dev/null
  # A release build, as a hospital runs it (the dev profile leaves hyper, tokio, serde and redb
  # unoptimised and more than triples the gateway's own cost).
  cargo build --quiet --release -p custodia-services --example gateway_rate
  echo "## The gateway on the embedded chain (1,000 Observations of 100 patients, 100 receipts, 8 clients)"
  echo
  fresh_hfs
  cargo run --quiet --release -p custodia-services --example gateway_rate -- "$hfs_url" embedded
  echo
  echo "## The gateway on the local chain (the same, decided and logged over JSON-RPC)"
  echo
  if [ ! -f "$CUSTODIA_ROOT/target/chain/chain.pid" ]; then chain_started=yes; fi
  node="$("$here/chain-start.sh" | tail -1)"
  fresh_hfs
  cargo run --quiet --release -p custodia-services --example gateway_rate -- "$hfs_url" "$node"
  exit 0
fi

cargo run --quiet -p custodia-tests --bin figures
echo
echo "## FHIR: canonicalize + hash on one core (custodia-fhir, optimised in every profile)"
echo
cargo run --quiet -p custodia-fhir --example throughput
echo
echo "## FHIR: import rate on the embedded chain"
echo
cargo run --quiet -p custodia-services --example fhir_import_rate
echo
echo "## The patient explorer: one patient with 10,000 accesses on the embedded chain"
echo
"$here/npm-install.sh" "$here/browser"
cargo run --quiet -p custodia-services --example explorer_rate
echo
echo "## FHIR server -> embedded chain: the sync follower (Helios HFS debug build, a fresh server)"
echo
"$here/hfs-install.sh" --debug >/dev/null
fresh_hfs
cargo run --quiet -p custodia-services --example sync_rate -- "$hfs_url"
