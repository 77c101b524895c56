#!/usr/bin/env bash
# Install what the project needs, idempotently: Debian packages when absent, the virtualenv,
# the package itself. Safe to run again; does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || need_pkgs+=(mosquitto-clients)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)
# headless browser for the dashboard test (tests/backend/dashboard), driven over DevTools
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq -o DPkg::Lock::Timeout=900
  # the packages' own system services are not used: tests and the demo run project-local ones
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -o DPkg::Lock::Timeout=900 -y -qq "${need_pkgs[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.gridx-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi

bash scripts/setup_node_tests.sh
bash scripts/build_market_core.sh
bash scripts/install_anvil.sh

mkdir -p .secrets .run && chmod 700 .secrets
echo "setup: ok"
