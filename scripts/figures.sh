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
