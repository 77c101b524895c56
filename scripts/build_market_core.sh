#!/usr/bin/env bash
# Build the market engine's compiled core (native/market_core, Rust + PyO3) into .venv with
# maturin, pinned in pyproject.toml's dev extras. Idempotent: skipped when the installed core
# is newer than every source file of the crate. Needs cargo (rustup: ~/.cargo/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
crate=native/market_core
stamp=.venv/.gridx-market-core
export PATH="$HOME/.cargo/bin:$PATH"

if [ -f "$stamp" ] && [ -z "$(find "$crate" -path "$crate/target" -prune -o -type f -newer "$stamp" -print -quit)" ] \
  && .venv/bin/python -c 'import gridx_market_core' 2>/dev/null; then
  exit 0
fi
command -v cargo >/dev/null || { echo "setup: cargo not found (install Rust with rustup)" >&2; exit 1; }
echo "setup: building the market core (native/market_core)"
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop --release --locked -q -m "$crate/Cargo.toml"
touch "$stamp"
