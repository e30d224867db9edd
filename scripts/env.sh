# Shared settings for Custodia's scripts; sourced, never run.
# shellcheck shell=bash
CUSTODIA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CUSTODIA_ROOT
# Project-local tools (rust-lld) live outside the repository's tracked files.
export CUSTODIA_TOOLS="${CUSTODIA_TOOLS:-$HOME/.cache/custodia/tools}"
# The Debian rustc-web 1.85 compiler, linked into rustup under this name.
export CONTRACT_TOOLCHAIN="${CONTRACT_TOOLCHAIN:-custodia-contracts}"
export CONTRACT_TOOLCHAIN_DIR="${CONTRACT_TOOLCHAIN_DIR:-/usr}"
# Where the release bundles (.contract, .wasm, .json) are put.
export CUSTODIA_BUNDLES="${CUSTODIA_BUNDLES:-$CUSTODIA_ROOT/target/bundles}"
export PATH="$CUSTODIA_TOOLS/bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# The FHIR R4 fixtures the tests read are in the repository (tests/fixtures/fhir, with their
# sources); set CUSTODIA_FHIR_FIXTURES to use another set of the same layout (e.g. a held-out
# one).

# Stops process $1 (named $2 in messages): SIGTERM, then SIGKILL if it has not exited after
# 10 s. Used by the stop scripts of the local chain and the FHIR server.
stop_process() {
  local pid="$1" name="$2"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "==> $name (pid $pid) ignored SIGTERM for 10 s: SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}
