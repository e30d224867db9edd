#!/usr/bin/env bash
# Installs the npm packages of one of the project's Node.js directories (scripts/chain,
# scripts/browser) exactly as its package-lock.json pins them, once: skipped while the lock
# file is unchanged since the last install. No install scripts run (none is needed: the one
# in scripts/chain, sqlite3's, serves chopsticks' --db, which is not used; puppeteer-core has
# none and drives Debian's Chromium, never a downloaded browser).
#   scripts/npm-install.sh DIR
set -euo pipefail
dir="$1"
say()  { printf '==> %s\n' "$*" >&2; }
fail() { printf 'npm-install: %s\n' "$*" >&2; exit 1; }
command -v node >/dev/null || fail "node not found: Node.js 20 or later is needed"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old: 20 or later is needed"
lock_digest="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
stamp="$dir/node_modules/.custodia-lock.sha256"
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_digest" ]; then
  say "installing npm packages into $dir/node_modules (npm ci)"
  command -v npm >/dev/null || fail "npm not found"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 \
    || fail "npm ci in $dir failed (is the npm registry reachable?)"
  echo "$lock_digest" > "$stamp"
fi
