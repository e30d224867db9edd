#!/usr/bin/env bash
# Starts the FHIR R4 server (Helios HFS, installed by scripts/hfs-install.sh) in the background on
# 127.0.0.1, with SQLite storage and the HL7 R4 search parameters of tests/fixtures/fhir-server
# (without them HFS drops `patient=` and most other searches). HFS has no authentication: it is
# bound to 127.0.0.1 only. Clients should send `Prefer: handling=strict`, so that a search
# parameter the server does not know is refused (400) rather than silently dropped.
#
# Usage: scripts/hfs-start.sh [--port N] [--data DIR]
#   --port N     default: a free port
#   --data DIR   where HFS keeps its database (DIR/hfs.db), its log and pid files, and any export;
#                default target/hfs. One server per data directory: several run side by side
#                with different directories (each test its own); stop each with --data DIR.
#   CUSTODIA_HFS_PROFILE=debug runs the debug build; CUSTODIA_HFS_READY_TIMEOUT (s, default 120)
#   Progress goes to stderr; the last line on stdout is the URL:  url=$(scripts/hfs-start.sh | tail -1)
#   Already running (for this data directory): prints its URL and exits 0.  Stop it with
#   scripts/hfs-stop.sh [--data DIR].
#   Files: in the data directory: hfs.log (its log), hfs.pid, hfs.port
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"

fail() { printf 'hfs-start: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }
usage() { sed -n '/^# Usage:/,/^#   Files/s/^# \{0,1\}//p' "$0" >&2; exit 2; }

port=""; data=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) [ $# -ge 2 ] || usage; port="$2"; shift 2 ;;
    --port=*) port="${1#--port=}"; shift ;;
    --data) [ $# -ge 2 ] || usage; data="$2"; shift 2 ;;
    --data=*) data="${1#--data=}"; shift ;;
    -h|--help) usage ;;
    *) printf 'hfs-start: unknown argument %s\n' "$1" >&2; usage ;;
  esac
done
if [ -n "$port" ] && ! { [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ]; }; then
  fail "--port wants a number from 1 to 65535, got '$port'"
fi
timeout="${CUSTODIA_HFS_READY_TIMEOUT:-120}"
[[ "$timeout" =~ ^[0-9]+$ ]] || fail "CUSTODIA_HFS_READY_TIMEOUT wants seconds, got '$timeout'"

search_params="$CUSTODIA_ROOT/tests/fixtures/fhir-server"
data="${data:-$CUSTODIA_ROOT/target/hfs}"
mkdir -p "$data" || fail "cannot create the data directory $data"
data="$(cd "$data" && pwd)"
pid_file="$data/hfs.pid"; port_file="$data/hfs.port"; log="$data/hfs.log"

case "${CUSTODIA_HFS_PROFILE:-release}" in
  release) hfs="$CUSTODIA_TOOLS/hfs/bin/hfs" ;;
  debug) hfs="$CUSTODIA_TOOLS/hfs-debug/bin/hfs" ;;
  *) fail "CUSTODIA_HFS_PROFILE is '$CUSTODIA_HFS_PROFILE': release or debug" ;;
esac

# The server's pid if it is running (a recycled pid running something else does not count).
running_pid() {
  local pid
  pid="$(cat "$pid_file" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = hfs ] && echo "$pid"
}

if pid="$(running_pid)" && [ -s "$port_file" ]; then
  running_port="$(cat "$port_file")"
  if [ -n "$port" ] && [ "$port" != "$running_port" ]; then
    say "already running on port $running_port (not $port); scripts/hfs-stop.sh --data $data stops it"
  else
    say "already running (pid $pid)"
  fi
  echo "http://127.0.0.1:$running_port"
  exit 0
fi

[ -x "$hfs" ] || fail "$hfs not found: run scripts/hfs-install.sh"
command -v curl >/dev/null || fail "curl not found (the readiness check uses it)"
[ -s "$search_params/search-parameters-r4.json" ] \
  || fail "$search_params/search-parameters-r4.json is missing"

# Ports listening on the loopback or any address (from /proc: no extra tool needed).
listening() {
  local hex
  awk 'FNR > 1 && $4 == "0A" { n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6 \
    2>/dev/null | while read -r hex; do echo $((16#$hex)); done | sort -un
}
# A free port: a random one below the kernel's range for outgoing connections (32768-60999),
# not listened on; start-up retries with another if HFS still finds it taken.
free_port() {
  local taken candidate
  taken="$(listening)"
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 12000))
    grep -qx "$candidate" <<<"$taken" || { echo "$candidate"; return 0; }
  done
  return 1
}
if [ -n "$port" ] && listening | grep -qx "$port"; then
  fail "port $port on 127.0.0.1 is in use"
fi

rm -f "$pid_file" "$port_file"
for attempt in 1 2 3 4 5; do
  try_port="${port:-$(free_port)}" || fail "no free port found"
  say "starting HFS on 127.0.0.1:$try_port (data: $data; log: $log)"
  # Detached (own session; stdin/stdout not tied to our caller), in the data directory so that
  # anything HFS writes relative to its working directory (./exports) stays there.
  (
    cd "$data"
    export HFS_BASE_URL="http://127.0.0.1:$try_port" HFS_DATA_DIR="$search_params" \
      HFS_SEED_CONFORMANCE=false HFS_UI_ENABLED=false HFS_STORAGE_BACKEND=sqlite
    exec setsid "$hfs" --host 127.0.0.1 --port "$try_port" --database-url "$data/hfs.db" \
      </dev/null >"$log" 2>&1
  ) &
  pid=$!
  echo "$pid" > "$pid_file"

  # Ready when /_readiness answers 200 (storage open; the search parameters load before it).
  start=$SECONDS
  until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$try_port/_readiness" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      if [ -z "$port" ] && [ "$attempt" -lt 5 ] && grep -qi 'address already in use' "$log"; then
        say "port $try_port was taken meanwhile; trying another"
        continue 2
      fi
      tail -n 20 "$log" >&2
      fail "HFS exited during start-up (log: $log)"
    fi
    if [ $((SECONDS - start)) -ge "$timeout" ]; then
      tail -n 20 "$log" >&2
      kill -TERM "$pid" 2>/dev/null || true
      rm -f "$pid_file"
      fail "no answer from http://127.0.0.1:$try_port/_readiness after $timeout s (log: $log)"
    fi
    sleep 0.2
  done
  break
done
grep -q 'SearchParameter registry initialized: [0-9]* total ([1-9]' "$log" \
  || say "warning: HFS did not report loading the spec search parameters (log: $log)"
echo "$try_port" > "$port_file"
say "HFS ready in $((SECONDS - start)) s (pid $pid)"
echo "http://127.0.0.1:$try_port"
