#!/usr/bin/env bash
# The main job: `custodia demo`, the whole story on the embedded chain (the real
# pallet-contracts runtime, in process), printed as a timeline. Sets up the toolchains and
# builds the contract bundles first. Arguments go to the demo (e.g. --json, or
# --node ws://127.0.0.1:9944 for a running node).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/prepare.sh" >&2
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"
cargo run --quiet -p custodia-cli --bin custodia -- demo "$@"
