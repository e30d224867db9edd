#!/usr/bin/env bash
# Stops the FHIR server scripts/hfs-start.sh started with the same data directory: SIGTERM (HFS
# drains its connections and exits), then SIGKILL if it has not exited after 10 s; removes its
# hfs.pid and hfs.port (the database and the log stay). Exits 0 if it was not running.
#
# Usage: scripts/hfs-stop.sh [--data DIR]     (default target/hfs, as for hfs-start.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

data="$CUSTODIA_ROOT/target/hfs"
case "${1:-}" in
  --data) [ $# -ge 2 ] || { echo "usage: scripts/hfs-stop.sh [--data DIR]" >&2; exit 2; }; data="$2" ;;
  --data=*) data="${1#--data=}" ;;
  "") ;;
  *) echo "usage: scripts/hfs-stop.sh [--data DIR]" >&2; exit 2 ;;
esac
pid_file="$data/hfs.pid"; port_file="$data/hfs.port"

pid="$(cat "$pid_file" 2>/dev/null || true)"
# Only a live process running hfs: a stale pid file may name a recycled pid.
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null \
    || [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" != hfs ]; then
  rm -f "$pid_file" "$port_file"
  echo "==> HFS not running"
  exit 0
fi

stop_process "$pid" HFS
rm -f "$pid_file" "$port_file"
echo "==> HFS stopped (pid $pid)"
