#!/usr/bin/env bash
# Builds what the patient explorer's page loads besides its own files: the polkadot.js
# libraries (scripts/browser/polkadot-entry.mjs) bundled by esbuild into
# target/explorer/polkadot.js, which `custodia explorer` serves as /vendor/polkadot.js (from
# $CUSTODIA_EXPLORER_ASSETS, default target/explorer). Skipped while scripts/browser's lock
# file, the entry and this script are unchanged. Without it the page works, minus acting with one's own key.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
"$here/npm-install.sh" "$here/browser"
out="${CUSTODIA_EXPLORER_ASSETS:-$CUSTODIA_ROOT/target/explorer}"
digest="$(cat "$here/browser/package-lock.json" "$here/browser/polkadot-entry.mjs" "$0" | sha256sum | cut -d' ' -f1)"
stamp="$out/polkadot.js.sha256"
if [ -f "$out/polkadot.js" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ]; then
  exit 0
fi
mkdir -p "$out"
echo "==> bundling the explorer's polkadot.js (esbuild) into $out" >&2
(cd "$here/browser" && node_modules/.bin/esbuild polkadot-entry.mjs --bundle --format=esm --minify \
  --platform=browser --log-level=warning --outfile="$out/polkadot.js") >&2
echo "$digest" > "$stamp"
