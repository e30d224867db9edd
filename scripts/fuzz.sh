#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (issue 11): builds the targets of fuzz/ with
# SanitizerCoverage instrumentation (stable rustc flags, as cargo-fuzz passes them, without a
# sanitizer) into target/fuzz, seeds each target's corpus (the FHIR reader's from the
# repository's FHIR fixtures, the call data's from the bundles' message selectors, the deployment
# and keystore files' from a few written here), and runs it. Bounded by default (what scripts/test.sh runs); longer on demand:
#   scripts/fuzz.sh                 # 500,000 to 5,000,000 inputs per target (20,000 keystores)
#   FUZZ_RUNS=0 FUZZ_SECONDS=3600 scripts/fuzz.sh   # an hour per target
# A failing input is written to target/fuzz/artifacts/<target>/ and the script fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
# Inputs per target unless FUZZ_RUNS says: the fast targets take millions in seconds; a secret
# URI may be a mnemonic, whose key derivation (PBKDF2) allows about 700 inputs a second.
runs_of() {
  case "$1" in
    call_data | deployment_file) echo 5000000 ;;
    keystore_file) echo 20000 ;;
    *) echo 500000 ;;
  esac
}
seconds="${FUZZ_SECONDS:-0}"
out="$CUSTODIA_ROOT/target/fuzz"
flags=(
  -Cpasses=sancov-module
  -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
  -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares
  --cfg=fuzzing
)
# An explicit --target keeps the instrumentation off build scripts and proc macros (they would
# need libFuzzer's runtime to link), as cargo-fuzz does.
host="$(rustc -vV | sed -n 's/^host: //p')"
echo "==> building the fuzz targets (libFuzzer, coverage-instrumented) into $out"
(cd "$CUSTODIA_ROOT/fuzz" &&
  RUSTFLAGS="${flags[*]}" CARGO_TARGET_DIR="$out" cargo build --quiet --release --locked --target "$host")
# Seeds for target $1 into directory $2.
seed() {
  case "$1" in
    # Every FHIR fixture file (resources, Bundles, invalid ones).
    fhir_document) find "$CUSTODIA_ROOT/tests/fixtures/fhir" -name '*.json' -exec cp -n {} "$2/" \; ;;
    # Every message's selector, from the bundles' metadata (the fuzzer finds the arguments).
    call_data)
      local selector
      for selector in $(cat "$CUSTODIA_BUNDLES"/*.json 2>/dev/null | grep -o '"selector": *"0x[0-9a-f]\{8\}"' |
        grep -o '[0-9a-f]\{8\}"$' | tr -d '"' | sort -u); do
        [ -e "$2/$selector" ] || printf '%b' "$(printf '%s' "$selector" | sed 's/../\\x&/g')" >"$2/$selector"
      done ;;
    # A deployment file with every field, and one without the optional ones.
    deployment_file)
      local contract
      contract='{"address": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "code_hash": "0x'"$(printf '1%.0s' {1..64})"'"}'
      printf '{"chain": "0x%s", "endpoint": "ws://127.0.0.1:9944", "block": 7, "directory": %s, "records": %s, "consents": %s, "access_log": %s, "attach_proposal": 1, "code_key": "0x%s"}\n' \
        "$(printf 'ab%.0s' {1..32})" "$contract" "$contract" "$contract" "$contract" "$(printf '2%.0s' {1..64})" >"$2/full.json"
      printf '{"chain": "0x%s", "endpoint": "embedded", "block": 0, "directory": %s, "records": %s, "consents": %s, "access_log": %s, "attach_proposal": null}\n' \
        "$(printf '00%.0s' {1..32})" "$contract" "$contract" "$contract" "$contract" >"$2/short.json" ;;
    # Secret URIs as keystore files hold them: a development name, a seed, a mnemonic, with
    # derivation paths and a password.
    keystore_file)
      printf '//Alice\n' >"$2/dev"
      printf '0x%s\n' "$(printf 'e5%.0s' {1..32})" >"$2/seed"
      printf 'bottom drive obey lake curtain smoke basket hold race lonely fit walk//Custodia/1///secret' >"$2/mnemonic" ;;
  esac
}
targets=(fhir_document call_data deployment_file keystore_file)
for target in "${targets[@]}"; do
  corpus="$out/corpus/$target"
  artifacts="$out/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  seed "$target" "$corpus"
  runs="${FUZZ_RUNS:-$(runs_of "$target")}"
  echo "==> fuzzing $target: $([ "$runs" != 0 ] && echo "$runs inputs" || echo "$seconds s")"
  limits=(-runs="$runs")
  if [ "$runs" = 0 ]; then limits=(-max_total_time="$seconds"); fi
  "$out/$host/release/$target" "${limits[@]}" -seed=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 "$corpus" 2>"$out/$target.log" ||
    { tail -40 "$out/$target.log" >&2; echo "==> $target found a failing input (in $artifacts)" >&2; exit 1; }
  grep -E "^Done|stat::number_of_executed_units|cov: " "$out/$target.log" | tail -3
done
