#!/usr/bin/env bash
# Idempotent, non-interactive install of the SBF toolchain used by scripts/build_programs.sh:
#   - Debian rustc-web / cargo-web / rust-web-src (Rust 1.96, LLVM 22) -> /usr/bin/rustc, /usr/bin/cargo,
#     std sources at /usr/lib/rustlib/src/rust/library (for -Zbuild-std=core,alloc)
#   - Debian llvm-22-dev (for building the linker against LLVM 22)
#   - sbpf-linker 0.1.9 (crates.io) built with --no-default-features --features upstream-gallery-22
#     (= bpf-linker 0.10 'llvm-22'), installed into $GRIDX_SBF_ROOT (default /opt/gridx-sbf)
set -euo pipefail
SBF_ROOT="${GRIDX_SBF_ROOT:-/opt/gridx-sbf}"
LINKER_VERSION=0.1.9
APT_PKGS="rustc-web cargo-web rust-web-src llvm-22-dev libpolly-22-dev zlib1g-dev libzstd-dev"

need_apt=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt="$need_apt $p"
done
if [ -n "$need_apt" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "apt: installing$need_apt"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=900 -y $need_apt \
    || { $SUDO apt-get update -o DPkg::Lock::Timeout=900 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=900 -y $need_apt; }
else
  echo "apt: all of $APT_PKGS already installed"
fi
/usr/bin/rustc --version | grep -q '^rustc 1\.96' || { echo "unexpected /usr/bin/rustc: $(/usr/bin/rustc --version)" >&2; exit 1; }
[ -d /usr/lib/rustlib/src/rust/library/core ] || { echo "rust-web-src: std sources missing" >&2; exit 1; }

# (sbpf-linker --version prints the version but exits non-zero, so read cargo's install record.)
if [ -x "$SBF_ROOT/bin/sbpf-linker" ] && grep -q "\"sbpf-linker $LINKER_VERSION " "$SBF_ROOT/.crates.toml" 2>/dev/null \
   && grep -q 'upstream-gallery-22' "$SBF_ROOT/.crates2.json" 2>/dev/null; then
  echo "sbpf-linker $LINKER_VERSION (llvm-22) already at $SBF_ROOT/bin"
else
  # A host tool: any recent cargo works (rustup's or Debian's); Debian's is used if rustup's is absent.
  CARGO_BIN="$(command -v cargo || echo /usr/bin/cargo)"
  echo "sbpf-linker: building $LINKER_VERSION with $CARGO_BIN against LLVM 22 (~1-2 min)"
  mkdir -p "$SBF_ROOT"
  LLVM_SYS_221_PREFIX=/usr/lib/llvm-22 LLVM_PREFIX=/usr/lib/llvm-22 \
    "$CARGO_BIN" install --locked --force sbpf-linker --version "=$LINKER_VERSION" --root "$SBF_ROOT" \
      --no-default-features --features upstream-gallery-22
fi
echo "SBF toolchain ready: /usr/bin/rustc ($(/usr/bin/rustc --version)), $SBF_ROOT/bin/sbpf-linker"
