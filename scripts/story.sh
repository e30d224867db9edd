#!/usr/bin/env bash
# The main job: tells Custodia's story on the embedded chain (the real pallet-contracts runtime,
# in process). Sets up the toolchains and builds the contract bundles first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/prepare.sh" >&2
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"
cargo run --quiet -p custodia-tests --bin story
