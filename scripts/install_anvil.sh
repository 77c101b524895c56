#!/usr/bin/env bash
# Install anvil (Foundry's local EVM node) from the npm registry, pinned by tools/anvil/package-lock.json.
# Idempotent: does nothing when the pinned binary is already there and runs.
set -euo pipefail
cd "$(dirname "$0")/../tools/anvil"
bin=node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
want=$(python3 -c 'import json; print(json.load(open("package-lock.json"))["packages"]["node_modules/@foundry-rs/anvil-linux-amd64"]["version"])')
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "Version: $want"; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "install_anvil: npm not found (Node 20+ needed)" >&2; exit 1; }
# npm ci installs exactly the lockfile (integrity-checked); the package has no install scripts to run.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
"$bin" --version | grep -q "Version: $want"
echo "install_anvil: anvil $want installed"
