#!/usr/bin/env bash
# Sets up the toolchains (scripts/setup.sh) and builds the contract bundles
# (scripts/build-contracts.sh); both skip what is already done. Every entry script starts here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/setup.sh"
"$here/build-contracts.sh"
