#!/usr/bin/env bash
# Starts Custodia's local chain in the background: the consortium runtime (chain/runtime,
# pallet-contracts of polkadot-sdk stable2409 with a council, Aura, GRANDPA, node authorization)
# executed by chopsticks (scripts/chain/launcher.mjs) from a raw genesis, one block per
# transaction, JSON-RPC (WebSocket and HTTP POST) on 127.0.0.1.
# First run: npm packages (~30 s), the runtime Wasm (scripts/build-runtime.sh, ~6 min cold) and
# the genesis (a few seconds); each is redone only when its inputs changed.
# The local consortium (scripts/chain/genesis.mjs): council and validators Alice, Bob, Charlie;
# treasury key Alice; dev accounts Alice..Ferdie (and //stash) hold 2^60 each; no sudo.
#
# Usage: scripts/chain-start.sh [--port N]     (default: a free port)
#   Progress goes to stderr; the last line on stdout is the URL:  url=$(scripts/chain-start.sh | tail -1)
#   Already running: prints its URL and exits 0.  Stop it with scripts/chain-stop.sh.
#   Files: target/chain/chain.log (its log), chain.pid, chain.port, genesis.json, runtime.wasm
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"

fail() { printf 'chain-start: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }
usage() { sed -n '/^# Usage:/,/^#   Files/s/^# \{0,1\}//p' "$0" >&2; exit 2; }

port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) [ $# -ge 2 ] || usage; port="$2"; shift 2 ;;
    --port=*) port="${1#--port=}"; shift ;;
    -h|--help) usage ;;
    *) printf 'chain-start: unknown argument %s\n' "$1" >&2; usage ;;
  esac
done
if [ -n "$port" ] && ! { [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ]; }; then
  fail "--port wants a number from 1 to 65535, got '$port'"
fi

chain_dir="$CUSTODIA_ROOT/scripts/chain"
out="$CUSTODIA_ROOT/target/chain"
pid_file="$out/chain.pid"; port_file="$out/chain.port"; log="$out/chain.log"
genesis="$out/genesis.json"
mkdir -p "$out"

# The launcher's pid if it is running (a recycled pid running something else does not count).
running_pid() {
  local pid
  pid="$(cat "$pid_file" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'launcher\.mjs' && echo "$pid"
}

if pid="$(running_pid)" && [ -s "$port_file" ]; then
  running_port="$(cat "$port_file")"
  if [ -n "$port" ] && [ "$port" != "$running_port" ]; then
    say "already running on port $running_port (not $port); scripts/chain-stop.sh stops it"
  else
    say "already running (pid $pid)"
  fi
  echo "ws://127.0.0.1:$running_port"
  exit 0
fi

# 1. Node and the npm packages (exactly package-lock.json).
"$here/npm-install.sh" "$chain_dir"

# 2. The runtime Wasm.
"$here/build-runtime.sh" >&2 || fail "building the runtime Wasm failed"

# 3. The raw genesis, from that Wasm.
genesis_digest="$(cat "$out/runtime.wasm" "$chain_dir/genesis.mjs" "$chain_dir/keys.mjs" "$chain_dir/package-lock.json" \
  | sha256sum | cut -d' ' -f1)"
genesis_stamp="$out/.genesis-sources.sha256"
if [ ! -s "$genesis" ] || [ "$(cat "$genesis_stamp" 2>/dev/null)" != "$genesis_digest" ]; then
  say "building the raw genesis from the runtime"
  rm -f "$genesis_stamp"
  node "$chain_dir/genesis.mjs" "$out/runtime.wasm" "$genesis" >&2 || fail "building the genesis failed"
  echo "$genesis_digest" > "$genesis_stamp"
fi

# 4. A port, then the launcher, detached (own session; stdin/stdout not tied to our caller).
# (Port 0 asks the kernel for a free one; a given port must be free, or the readiness check
# below could be answered by whatever already listens there.)
wanted="${port:-0}"
port="$(node -e 'const s = require("net").createServer().once("error", () => process.exit(1))
  .listen(Number(process.argv[1]), "127.0.0.1", () => { console.log(s.address().port); s.close() })' \
  "$wanted")" || fail "port $wanted on 127.0.0.1 is in use (or no free port was found)"
rm -f "$pid_file" "$port_file"
say "starting the chain on 127.0.0.1:$port (log: $log)"
setsid node "$chain_dir/launcher.mjs" --genesis "$genesis" --port "$port" </dev/null >"$log" 2>&1 &
pid=$!
echo "$pid" > "$pid_file"

# 5. Ready when the JSON-RPC answers over HTTP POST (the server shares the WebSocket's port).
# shellcheck disable=SC2016 # JavaScript, not shell
rpc_check='fetch(`http://127.0.0.1:${process.argv[1]}`, { method: "POST",
  headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(2000),
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "chain_getHeader", params: [] }) })
  .then((r) => r.json()).then((j) => process.exit(j.result ? 0 : 1), () => process.exit(1))'
start=$SECONDS
until kill -0 "$pid" 2>/dev/null && node -e "$rpc_check" "$port" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pid_file"
    tail -n 20 "$log" >&2
    fail "the chain exited during start-up (log: $log)"
  fi
  if [ $((SECONDS - start)) -ge 120 ]; then
    tail -n 20 "$log" >&2
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$pid_file"
    fail "no JSON-RPC answer on 127.0.0.1:$port after 120 s (log: $log)"
  fi
  sleep 0.5
done
echo "$port" > "$port_file"
say "chain ready in $((SECONDS - start)) s (pid $pid)"
echo "ws://127.0.0.1:$port"
