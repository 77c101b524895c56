#!/usr/bin/env bash
# Build the market engine's compiled core (native/market_core, Rust + PyO3) into .venv with
# maturin, pinned in pyproject.toml's dev extras. Idempotent: skipped when the installed core
# is newer than every source file of the crate. Uses rustup's cargo (~/.cargo/bin) when present.
set -euo pipefail
cd "$(dirname "$0")/.."
crate=native/market_core
stamp=.venv/.gridx-market-core
export PATH="$HOME/.cargo/bin:$PATH"

if [ -f "$stamp" ] && [ -z "$(find "$crate" -path "$crate/target" -prune -o -type f -newer "$stamp" -print -quit)" ] \
  && .venv/bin/python -c 'import gridx_market_core' 2>/dev/null; then
  exit 0
fi
if ! command -v cargo >/dev/null; then  # rustup's when present, else Debian's (pyo3 needs rustc >= 1.74)
  echo "setup: installing Debian package: cargo"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -o DPkg::Lock::Timeout=900 -y -qq cargo >/dev/null
fi
echo "setup: building the market core (native/market_core)"
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop --release --locked -q -m "$crate/Cargo.toml"
touch "$stamp"
