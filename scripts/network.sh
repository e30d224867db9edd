#!/usr/bin/env bash
# A real network of the consortium's validators on this machine: custodia-node processes
# (scripts/build-node.sh) on 127.0.0.1, Aura producing blocks and GRANDPA finalizing them, each
# validator with its own base path, node key and ports, peering only with the others
# (--reserved-only; their peer ids are the well-known nodes of the genesis' node authorization).
# Validator I (1-based) is Alice, Bob, Charlie, Dave (their //Name Aura and GRANDPA keys; the
# council is Alice, Bob and Charlie), node key 0x00..0I; p2p port 31330+I, JSON-RPC port 19940+I.
# Opt-in: not part of .ci/run (the node takes an hour or more to build once).
#
# Usage: scripts/network.sh start [--validators N] | stop | status | kill I | restart I | faults | e2e
#   start       builds what is missing, writes the chain spec, starts N validators (default 4)
#               and waits until blocks are finalized
#   stop        stops every validator (SIGTERM, then SIGKILL)
#   status      each validator's best and finalized block and peers
#   kill I      SIGKILLs validator I;  restart I  starts it again on its base path
#   faults      the fault scenarios on a fresh 4-validator network; prints what it observed
#   e2e [FILTER]  the end-to-end suites (client_node, consortium) against validator 1 (the
#               tests whose names contain FILTER, if given)
#   Files: target/network/ (spec.json, vI/ base path, vI.log, vI.pid)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
cd "$CUSTODIA_ROOT"

fail() { printf 'network: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }
usage() { sed -n '/^# Usage:/,/^#   Files/s/^# \{0,1\}//p' "$0" >&2; exit 2; }

dir="$CUSTODIA_ROOT/target/network"
spec="$dir/spec.json"
names=(Alice Bob Charlie Dave Eve Ferdie)
check="$CUSTODIA_ROOT/scripts/chain/network-check.mjs"

p2p_port() { echo $((31330 + $1)); }
rpc_port() { echo $((19940 + $1)); }
rpc_url() { echo "http://127.0.0.1:$(rpc_port "$1")"; }
node_key() { printf '%064x' "$1"; }
count() { cat "$dir/validators" 2>/dev/null || echo 4; }
# The node binary, built (or found up to date) once per invocation.
node_bin() {
  if [ -z "${NODE_BIN:-}" ]; then NODE_BIN="$("$here/build-node.sh" | tail -1)"; fi
  echo "$NODE_BIN"
}

# The peer id of validator I, from its node key (the node's own `key inspect-node-key`).
peer_id() {
  local key_file="$dir/v$1.node-key"
  node_key "$1" > "$key_file"
  "$(node_bin)" key inspect-node-key --file "$key_file" 2>/dev/null
}

pid_of() {
  local pid
  pid="$(cat "$dir/v$1.pid" 2>/dev/null)" || return 1
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q custodia-node && echo "$pid"
}

# Starts validator I (its keys inserted on first start).
start_one() {
  local i="$1" name="${names[$(($1 - 1))]}" base="$dir/v$1" bin reserved=()
  bin="$(node_bin)"
  if [ ! -d "$base/chains" ]; then
    "$bin" key insert --base-path "$base" --chain "$spec" --scheme sr25519 --suri "//$name" --key-type aura
    "$bin" key insert --base-path "$base" --chain "$spec" --scheme ed25519 --suri "//$name" --key-type gran
  fi
  for j in $(seq 1 "$(count)"); do
    [ "$j" = "$i" ] && continue
    reserved+=(--reserved-nodes "/ip4/127.0.0.1/tcp/$(p2p_port "$j")/p2p/$(cat "$dir/v$j.peer")")
  done
  # --rpc-cors all also lifts the RPC server's host filter (it accepts only its own
  # host:port), which the e2e suite's TCP proxy, under another port, would trip on.
  setsid "$bin" --chain "$spec" --base-path "$base" --name "v$i-$name" --validator \
    --node-key "$(node_key "$i")" --listen-addr "/ip4/127.0.0.1/tcp/$(p2p_port "$i")" \
    --rpc-port "$(rpc_port "$i")" --rpc-cors all --reserved-only "${reserved[@]}" --allow-private-ip \
    --database paritydb --state-pruning archive --blocks-pruning archive \
    --no-telemetry --no-prometheus --no-mdns </dev/null >>"$dir/v$i.log" 2>&1 &
  echo $! > "$dir/v$i.pid"
  disown # killed on purpose by the fault scenarios: no job-control notices
}

stop_one() {
  local pid
  if pid="$(pid_of "$1")"; then stop_process "$pid" "validator $1"; fi
  rm -f "$dir/v$1.pid"
}

heads() {
  local urls=()
  for i in $(seq 1 "$(count)"); do urls+=("$(rpc_url "$i")"); done
  node "$check" heads "${urls[@]}"
}

# The finalized block number of validator I (empty if it does not answer).
finalized_of() { node "$check" heads "$(rpc_url "$1")" | sed -n 's/.* finalized \([0-9]*\) .*/\1/p'; }
best_of() { node "$check" heads "$(rpc_url "$1")" | sed -n 's/.* best \([0-9]*\) .*/\1/p'; }

# Waits until validator I's finalized block reaches N; prints the seconds it took, or fails
# after LIMIT seconds.
await_finalized() {
  local i="$1" target="$2" limit="$3" start=$SECONDS f
  while :; do
    f="$(finalized_of "$i")"
    if [ -n "$f" ] && [ "$f" -ge "$target" ]; then echo $((SECONDS - start)); return 0; fi
    [ $((SECONDS - start)) -ge "$limit" ] && return 1
    sleep 1
  done
}

start() {
  local n=4
  if [ "${1:-}" = --validators ]; then n="${2:-}"; fi
  [[ "$n" =~ ^[3-6]$ ]] || fail "--validators wants 3 to 6 (GRANDPA needs more than two thirds), got '$n'"
  if [ -f "$dir/validators" ] && pid_of 1 >/dev/null; then fail "already running (scripts/network.sh stop first)"; fi
  rm -rf "$dir"; mkdir -p "$dir"
  echo "$n" > "$dir/validators"
  "$here/npm-install.sh" "$CUSTODIA_ROOT/scripts/chain"
  "$here/build-runtime.sh" >&2
  NODE_BIN="$(node_bin)"
  node scripts/chain/genesis.mjs target/chain/runtime.wasm "$spec" --validators "$n" >&2
  for i in $(seq 1 "$n"); do peer_id "$i" > "$dir/v$i.peer"; done
  for i in $(seq 1 "$n"); do start_one "$i"; done
  say "started $n validators; waiting for finality"
  local took
  took="$(await_finalized 1 2 120)" || { heads; fail "no block finalized within 120 s (logs: $dir/v*.log)"; }
  say "block #2 finalized $took s after start"
  heads
}

stop() {
  for i in $(seq 1 "$(count)"); do stop_one "$i"; done
  say "stopped"
}

faults() {
  start --validators 4
  local txs="$dir/finalized-remarks.txt" f t
  : > "$txs"
  node "$check" load "$(rpc_url 1)" 3 "$txs"
  say "1. one validator of four killed with SIGKILL (v4): blocks and finality go on"
  kill -KILL "$(pid_of 4)"
  f="$(finalized_of 1)"
  t="$(await_finalized 1 $((f + 3)) 120)" || { heads; fail "finality stopped with 3 of 4 validators"; }
  say "   finalized #$f -> #$((f + 3)) in $t s with v4 down"
  node "$check" load "$(rpc_url 2)" 2 "$txs"
  say "2. v4 restarted: it catches up"
  start_one 4
  f="$(finalized_of 1)"
  t="$(await_finalized 4 "$f" 180)" || { heads; fail "v4 did not catch up to #$f"; }
  say "   v4 reached finalized #$f in $t s after its restart"
  say "3. two of four killed with SIGKILL (v3, v4): finality stalls, blocks may go on"
  kill -KILL "$(pid_of 3)" "$(pid_of 4)"
  sleep 5
  local f0 b0 f1 b1
  f0="$(finalized_of 1)"; b0="$(best_of 1)"
  sleep 40
  f1="$(finalized_of 1)"; b1="$(best_of 1)"
  say "   in 40 s: finalized #$f0 -> #$f1, best #$b0 -> #$b1"
  [ "$f1" -le $((f0 + 1)) ] || fail "finality went on with 2 of 4 validators (#$f0 -> #$f1)"
  say "4. v3 restarted: finality resumes"
  start_one 3
  t="$(await_finalized 1 $((b1 + 1)) 240)" || { heads; fail "finality did not resume with 3 of 4"; }
  say "   finalized past #$b1 $t s after v3's restart"
  start_one 4
  await_finalized 4 "$(finalized_of 1)" 180 >/dev/null || fail "v4 did not catch up"
  say "5. no remark the client saw finalized was lost, on any validator"
  node "$check" verify "$txs" "$(rpc_url 1)" "$(rpc_url 2)" "$(rpc_url 3)" "$(rpc_url 4)"
  say "6. a node whose peer id is not authorised cannot join"
  intruder
  heads
  stop
}

# A fifth node with a node key that is in no genesis and no reserved list, told where v1 is:
# after 40 s it has no peers and has imported nothing.
intruder() {
  local bin base="$dir/intruder" port=31339 rpc=19949 pid answer
  bin="$(node_bin)"
  setsid "$bin" --chain "$spec" --base-path "$base" --name intruder \
    --node-key "$(printf 'ee%.0s' $(seq 1 32))" --listen-addr "/ip4/127.0.0.1/tcp/$port" \
    --rpc-port "$rpc" --reserved-nodes "/ip4/127.0.0.1/tcp/$(p2p_port 1)/p2p/$(cat "$dir/v1.peer")" \
    --allow-private-ip --database paritydb --no-telemetry --no-prometheus --no-mdns \
    </dev/null >"$dir/intruder.log" 2>&1 &
  pid=$!
  disown
  sleep 40
  answer="$(node "$check" heads "http://127.0.0.1:$rpc")"
  stop_process "$pid" intruder
  say "   intruder: $answer"
  case "$answer" in
    *" best 0 "*" peers 0") ;;
    *) fail "the unauthorised node joined: $answer" ;;
  esac
}

e2e() {
  pid_of 1 >/dev/null || fail "not running: scripts/network.sh start"
  CUSTODIA_NODE_URL="ws://127.0.0.1:$(rpc_port 1)" cargo test --quiet -p custodia-tests --features e2e \
    --test client_node --test consortium -- --test-threads=1 "$@"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) heads ;;
  kill) [ -n "${2:-}" ] || usage; kill -KILL "$(pid_of "$2")" ;;
  restart) [ -n "${2:-}" ] || usage; start_one "$2" ;;
  faults) faults ;;
  e2e) shift; e2e "$@" ;;
  *) usage ;;
esac
