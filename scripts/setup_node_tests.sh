#!/usr/bin/env bash
# The Node test of the chain node (tests/node): Node.js from Debian when absent, then the exact
# packages of tests/node/package-lock.json (npm ci), only when the lock changed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing Debian packages: nodejs npm"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq -o DPkg::Lock::Timeout=900
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=900 nodejs npm >/dev/null
fi

stamp=tests/node/node_modules/.gridx-installed
if [ ! -f "$stamp" ] || [ tests/node/package-lock.json -nt "$stamp" ]; then
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
