#!/usr/bin/env bash
# The main job: `custodia demo`, the whole story on the embedded chain (the real
# pallet-contracts runtime, in process), printed as a timeline. Sets up the toolchains and
# builds the contract bundles first. Arguments go to the demo (e.g. --json, or
# --node ws://127.0.0.1:9944 for a running node).
#
# When Helios HFS is installed (scripts/setup.sh installs its debug build), a fresh, empty
# server is started for the chapter where a clinician's system writes to the hospital's FHIR
# server and the ledger follows (`--fhir-server URL`), and stopped afterwards; without it the
# chapter is skipped, and the demo says so.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/prepare.sh" >&2
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"

args=("$@")
given=no
for arg in "$@"; do case "$arg" in --fhir-server|--fhir-server=*) given=yes ;; esac; done
if [ "$given" = no ]; then
  profile=""
  if [ -x "$CUSTODIA_TOOLS/hfs/bin/hfs" ]; then profile=release
  elif [ -x "$CUSTODIA_TOOLS/hfs-debug/bin/hfs" ]; then profile=debug
  fi
  if [ -n "$profile" ]; then
    data="$(mktemp -d)"
    trap 'CUSTODIA_HFS_PROFILE=$profile "$here/hfs-stop.sh" --data "$data" >&2 || true; rm -rf "$data"' EXIT
    url="$(CUSTODIA_HFS_PROFILE=$profile "$here/hfs-start.sh" --data "$data" | tail -1)"
    args+=(--fhir-server "$url")
  fi
fi
cargo run --quiet -p custodia-cli --bin custodia -- demo "${args[@]}"
