#!/usr/bin/env bash
# Stops the FHIR server started by scripts/hfs-start.sh: SIGTERM (HFS drains its connections and
# exits), then SIGKILL if it has not exited after 10 s; removes target/hfs/hfs.pid, hfs.port and
# hfs.data (the data directory and the log stay). Exits 0 if it was not running.
#
# Usage: scripts/hfs-stop.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

out="$CUSTODIA_ROOT/target/hfs"
pid_file="$out/hfs.pid"; port_file="$out/hfs.port"; data_file="$out/hfs.data"

pid="$(cat "$pid_file" 2>/dev/null || true)"
# Only a live process running hfs: a stale pid file may name a recycled pid.
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null \
    || [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" != hfs ]; then
  rm -f "$pid_file" "$port_file" "$data_file"
  echo "==> HFS not running"
  exit 0
fi

stop_process "$pid" HFS
rm -f "$pid_file" "$port_file" "$data_file"
echo "==> HFS stopped (pid $pid)"
