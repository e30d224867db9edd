#!/usr/bin/env bash
# Runs every Custodia test: sets up the toolchains, builds the release bundles, then runs the
# contracts' unit tests (off chain) and the integration tests (the bundles in the real
# pallet-contracts runtime, in process).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/prepare.sh"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"
echo "==> cargo test --workspace"
cargo test --workspace --quiet
