#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (issue 11): builds the targets of fuzz/ with
# SanitizerCoverage instrumentation (stable rustc flags, as cargo-fuzz passes them, without a
# sanitizer) into target/fuzz, seeds each target's corpus from the repository's FHIR fixtures,
# and runs it. Bounded by default (what scripts/test.sh runs); longer on demand:
#   scripts/fuzz.sh                 # 500,000 inputs per target
#   FUZZ_RUNS=0 FUZZ_SECONDS=3600 scripts/fuzz.sh   # an hour per target
# A failing input is written to target/fuzz/artifacts/<target>/ and the script fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
runs="${FUZZ_RUNS:-500000}"
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
targets=(fhir_document)
for target in "${targets[@]}"; do
  corpus="$out/corpus/$target"
  artifacts="$out/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  # Seeds: every FHIR fixture file (resources, Bundles, invalid ones).
  find "$CUSTODIA_ROOT/tests/fixtures/fhir" -name '*.json' -exec cp -n {} "$corpus/" \;
  echo "==> fuzzing $target: $([ "$runs" != 0 ] && echo "$runs inputs" || echo "$seconds s")"
  limits=(-runs="$runs")
  if [ "$runs" = 0 ]; then limits=(-max_total_time="$seconds"); fi
  "$out/$host/release/$target" "${limits[@]}" -seed=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 "$corpus" 2>"$out/$target.log" ||
    { tail -40 "$out/$target.log" >&2; echo "==> $target found a failing input (in $artifacts)" >&2; exit 1; }
  grep -E "^Done|stat::number_of_executed_units|cov: " "$out/$target.log" | tail -3
done
