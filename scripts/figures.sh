#!/usr/bin/env bash
# Prints the figures the README reports (Wasm sizes; gas and storage deposit per call), measured
# in the in-process pallet-contracts runtime. Sets up and builds what it needs first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/prepare.sh" >&2
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"
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
echo "## FHIR server -> embedded chain: the sync follower (Helios HFS debug build, a fresh server)"
echo
"$here/hfs-install.sh" --debug >/dev/null
hfs_data="$(mktemp -d)"
hfs_url="$(CUSTODIA_HFS_PROFILE=debug "$here/hfs-start.sh" --data "$hfs_data" 2>/dev/null | tail -1)"
trap '"$here/hfs-stop.sh" --data "$hfs_data" >/dev/null; rm -rf "$hfs_data"' EXIT
cargo run --quiet -p custodia-services --example sync_rate -- "$hfs_url"
