#!/usr/bin/env bash
# Build the three Solana programs (registry, energy_token, trading) from source to SBPF v0 .so
# files with Debian's rustc-web 1.96 (LLVM 22) + build-std + sbpf-linker (LLVM 22).
# Usage: scripts/build_programs.sh [OUT_DIR]   (default: programs/deploy)
# Toolchain: scripts/setup_sbf_toolchain.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/programs/deploy}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SBF_ROOT="${GRIDX_SBF_ROOT:-/opt/gridx-sbf}"
LINKER="$SBF_ROOT/bin/sbpf-linker"
DEB_RUSTC=/usr/bin/rustc
DEB_CARGO=/usr/bin/cargo
for f in "$LINKER" "$DEB_RUSTC" "$DEB_CARGO"; do
  [ -x "$f" ] || { echo "missing $f: run scripts/setup_sbf_toolchain.sh" >&2; exit 1; }
done
"$DEB_RUSTC" --version | grep -q '^rustc 1\.96' || { echo "expected Debian rustc-web 1.96 at $DEB_RUSTC" >&2; exit 1; }

cd "$ROOT/programs"
# Never let rustup's toolchain be picked: Debian binaries first on PATH, explicit RUSTC.
export PATH="/usr/bin:/bin:$SBF_ROOT/bin"
export RUSTC="$DEB_RUSTC"
unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
export RUSTC_BOOTSTRAP=1
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export CARGO_TARGET_DIR="${GRIDX_SBF_TARGET_DIR:-$ROOT/programs/target}"
# Reproducibility: no absolute paths of this checkout or of the cargo home in the output.
# Link through programs/tools/sbf-link.sh: sbpf-linker plus checks for what it cannot handle.
export GRIDX_SBPF_LINKER="$LINKER"
export CARGO_TARGET_BPFEL_UNKNOWN_NONE_LINKER="$ROOT/programs/tools/sbf-link.sh"
REMAP="--remap-path-prefix=$ROOT/programs=/gridx/programs --remap-path-prefix=$CARGO_HOME=/cargo --remap-path-prefix=/usr/lib/rustlib/src/rust=/rustc --remap-path-prefix=/usr/src/rustc-1.96.0=/rustc"
export CARGO_TARGET_BPFEL_UNKNOWN_NONE_RUSTFLAGS="-C panic=abort -C relocation-model=static -C link-arg=--llvm-args=-bpf-stack-size=4096 -C link-arg=--llvm-args=-profile-guided-section-prefix=false $REMAP"
export SOURCE_DATE_EPOCH=0

start=$(date +%s)
"$DEB_CARGO" build --locked --release --target bpfel-unknown-none \
  -Z build-std=core,alloc \
  -p registry -p energy_token -p trading
for p in registry energy_token trading; do
  cp "$CARGO_TARGET_DIR/bpfel-unknown-none/release/lib$p.so" "$OUT/$p.so"
  echo "built $OUT/$p.so ($(stat -c %s "$OUT/$p.so") bytes, sha256 $(sha256sum "$OUT/$p.so" | cut -c1-16))"
done
echo "build time: $(( $(date +%s) - start ))s"
