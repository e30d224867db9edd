#!/usr/bin/env bash
# Stops the local chain started by scripts/chain-start.sh: SIGTERM, then SIGKILL if it has not
# exited after 10 s; removes target/chain/chain.pid and chain.port. Exits 0 if it was not running.
#
# Usage: scripts/chain-stop.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

out="$CUSTODIA_ROOT/target/chain"
pid_file="$out/chain.pid"; port_file="$out/chain.port"

pid="$(cat "$pid_file" 2>/dev/null || true)"
# Only a live process running our launcher: a stale pid file may name a recycled pid.
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null \
    || ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'launcher\.mjs'; then
  rm -f "$pid_file" "$port_file"
  echo "==> chain not running"
  exit 0
fi

stop_process "$pid" chain
rm -f "$pid_file" "$port_file"
echo "==> chain stopped (pid $pid)"
