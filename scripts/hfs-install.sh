#!/usr/bin/env bash
# Installs the FHIR R4 server the project runs against: Helios HFS (crate helios-hfs, MIT), built
# from crates.io for R4 with SQLite only (no UI, no subscriptions; R6 is the only feature whose
# build script downloads anything, and it is off). Goes to the per-user tools directory outside
# the clone, so a fresh clone finds it; skipped when that binary already reports the version.
# Cold build (release): 409 crates, 35 min wall on 2 cores shared with another build (37 CPU-min;
# downloads included), a 134 MB binary; debug: 10 min (8 CPU-min; sources already downloaded),
# an 886 MB binary, 2.5-7x slower per request (ms either way). Needs a C compiler, pkg-config and
# libssl-dev (scripts/setup.sh).
#
# Usage: scripts/hfs-install.sh [--debug]
#   --debug, or CUSTODIA_HFS_PROFILE=debug: an unoptimised build, into its own root
#   Release: $CUSTODIA_TOOLS/hfs/bin/hfs     Debug: $CUSTODIA_TOOLS/hfs-debug/bin/hfs
#   The last line on stdout is the binary's path:  hfs=$(scripts/hfs-install.sh | tail -1)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

HFS_VERSION="0.2.7"
HFS_FEATURES="R4,sqlite"

fail() { printf 'hfs-install: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }
usage() { sed -n '/^# Usage:/,/^#   The last/s/^# \{0,1\}//p' "$0" >&2; exit 2; }

profile="${CUSTODIA_HFS_PROFILE:-release}"
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug; shift ;;
    -h|--help) usage ;;
    *) printf 'hfs-install: unknown argument %s\n' "$1" >&2; usage ;;
  esac
done
case "$profile" in
  release) root="$CUSTODIA_TOOLS/hfs"; profile_flag=() ;;
  debug) root="$CUSTODIA_TOOLS/hfs-debug"; profile_flag=(--debug) ;;
  *) fail "CUSTODIA_HFS_PROFILE is '$profile': release or debug" ;;
esac
hfs="$root/bin/hfs"

# `hfs --version` prints `hfs 0.2.7` (with ` (git <sha>)` when built from a checkout).
if "$hfs" --version 2>/dev/null | grep -q "^hfs $HFS_VERSION\b"; then
  say "helios-hfs $HFS_VERSION ($profile) present: $hfs"
  echo "$hfs"
  exit 0
fi

command -v cargo >/dev/null || fail "cargo not found: the host Rust toolchain is expected"
command -v cc >/dev/null || fail "no C compiler (cc): run scripts/setup.sh (Debian: build-essential)"
command -v pkg-config >/dev/null || fail "pkg-config not found: run scripts/setup.sh"
pkg-config --exists openssl || fail "OpenSSL's development files not found: run scripts/setup.sh (libssl-dev)"

say "building helios-hfs $HFS_VERSION ($profile, features $HFS_FEATURES) from crates.io into $root (about 35 min on 2 cores in release, 4 to 10 in debug)"
start=$SECONDS
cargo install helios-hfs --version "$HFS_VERSION" --locked --no-default-features \
  --features "$HFS_FEATURES" "${profile_flag[@]}" --root "$root" --force --quiet \
  || fail "cargo install helios-hfs $HFS_VERSION failed"
"$hfs" --version 2>/dev/null | grep -q "^hfs $HFS_VERSION\b" \
  || fail "$hfs does not report version $HFS_VERSION after the build"
say "helios-hfs $HFS_VERSION ($profile) built in $((SECONDS - start)) s: $hfs"
echo "$hfs"
