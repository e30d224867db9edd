#!/usr/bin/env bash
# Installs everything Custodia's build and tests need, from the package registries only.
# Idempotent: every step checks first and skips what is already there.
#
#   - Debian's rustc-web 1.85 (+ its std sources) as the contract toolchain, linked into rustup
#     as `custodia-contracts` (cargo-contract release builds fail on rustc >= 1.92);
#   - LLVM 19's lld, exposed as `rust-lld` (the wasm linker the target asks for; its LLVM must
#     match rustc 1.85's for -Clinker-plugin-lto);
#   - cargo-contract 5.0.3, built by the host's stable toolchain;
#   - Debian's shellcheck, for scripts/lint.sh;
#   - Helios HFS's debug build (scripts/hfs-install.sh --debug), the FHIR server the sync tests
#     run against, and Debian's sqlite3 command, with which they tamper with its database.
#
# Usage: scripts/setup.sh            (prints what it does; exits non-zero with a reason on failure)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

RUST_WEB_VERSION="1.85.0+dfsg3-1~deb12u3"
CARGO_CONTRACT_VERSION="5.0.3"

say()  { printf '==> %s\n' "$*"; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }

need_root_for_apt() {
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    fail "installing Debian packages needs root (or sudo): $*"
  fi
}
apt_run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages: the contract toolchain, the linker and the shell-script linter.
packages=(
  "rustc-web=$RUST_WEB_VERSION" "cargo-web=$RUST_WEB_VERSION"
  "libstd-rust-web-dev=$RUST_WEB_VERSION" "rust-web-src=$RUST_WEB_VERSION"
  "rust-web-clippy=$RUST_WEB_VERSION" lld-19 shellcheck
  pkg-config libssl-dev  # for helios-hfs, the FHIR server (scripts/hfs-install.sh)
  sqlite3  # the sync tests change a record in the FHIR server's database behind its back
  openssl  # the gateway's TLS test makes a certificate of its own
  chromium  # the explorer's pages are tested in a real browser, headless (scripts/browser)
)
missing=()
for p in "${packages[@]}"; do
  name="${p%%=*}"; want="${p#*=}"; [ "$want" = "$p" ] && want=""
  have="$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)"
  case "$have" in
    "install ok installed "*)
      if [ -z "$want" ] || [ "${have##* }" = "$want" ]; then continue; fi ;;
  esac
  missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  need_root_for_apt "${missing[*]}"
  say "installing Debian packages: ${missing[*]}"
  apt_run apt-get update -qq || fail "apt-get update failed (is Debian's mirror reachable?)"
  DEBIAN_FRONTEND=noninteractive apt_run apt-get install -y -qq --no-install-recommends \
    --allow-downgrades "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
else
  say "Debian packages present (rustc-web $RUST_WEB_VERSION, lld-19, shellcheck)"
fi

# 2. rust-lld on PATH for the contract toolchain (LLVM 19's lld is a multi-call binary).
mkdir -p "$CUSTODIA_TOOLS/bin"
if [ "$(readlink "$CUSTODIA_TOOLS/bin/rust-lld" 2>/dev/null)" != /usr/lib/llvm-19/bin/lld ]; then
  say "linking $CUSTODIA_TOOLS/bin/rust-lld -> /usr/lib/llvm-19/bin/lld"
  ln -sf /usr/lib/llvm-19/bin/lld "$CUSTODIA_TOOLS/bin/rust-lld"
fi

# 3. The Debian compiler as a rustup toolchain, selected per command by RUSTUP_TOOLCHAIN.
command -v rustup >/dev/null || fail "rustup not found: the host Rust toolchain is expected"
if ! rustup toolchain list | grep -q "^$CONTRACT_TOOLCHAIN"; then
  say "linking rustup toolchain $CONTRACT_TOOLCHAIN -> $CONTRACT_TOOLCHAIN_DIR"
  rustup toolchain link "$CONTRACT_TOOLCHAIN" "$CONTRACT_TOOLCHAIN_DIR" \
    || fail "rustup toolchain link failed"
fi
got="$(RUSTUP_TOOLCHAIN=$CONTRACT_TOOLCHAIN rustc --version 2>/dev/null || true)"
case "$got" in
  "rustc 1.85."*) say "contract toolchain: $got" ;;
  *) fail "contract toolchain $CONTRACT_TOOLCHAIN answers '$got', expected rustc 1.85" ;;
esac

# 4. cargo-contract, built with the host toolchain.
if cargo contract --version 2>/dev/null | grep -q " $CARGO_CONTRACT_VERSION-"; then
  say "cargo-contract $CARGO_CONTRACT_VERSION present"
else
  say "building cargo-contract $CARGO_CONTRACT_VERSION from crates.io (about 12 minutes on 2 cores)"
  cargo install cargo-contract --version "$CARGO_CONTRACT_VERSION" --locked --quiet \
    || fail "cargo install cargo-contract $CARGO_CONTRACT_VERSION failed"
fi
# 5. The FHIR server the sync tests run against: Helios HFS's debug build (a quarter of the
#    release build's time; fast enough for the tests), skipped when present.
"$here/hfs-install.sh" --debug >/dev/null
say "setup complete"
