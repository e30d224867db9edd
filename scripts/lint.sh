#!/usr/bin/env bash
# Static checks, in order, stopping at the first failure:
#  1. shellcheck on every shell script (installed by scripts/setup.sh);
#  2. rustfmt, checking only;
#  3. clippy on every crate and target, warnings as errors;
#  4. rustdoc on every crate, warnings as errors.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"
echo "==> shellcheck"
command -v shellcheck >/dev/null || { echo "lint: shellcheck not found: run scripts/setup.sh" >&2; exit 1; }
shellcheck -x scripts/*.sh .ci/run

echo "==> cargo fmt --all --check"
cargo fmt --all --check

echo "==> cargo clippy --workspace --all-targets (with the FHIR-server, browser and node suites)"
cargo clippy --workspace --all-targets --features custodia-cli/hfs,custodia-cli/browser,custodia-cli/e2e,custodia-tests/hfs,custodia-tests/e2e --quiet -- -D warnings

echo "==> cargo doc --workspace --no-deps (warnings as errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
