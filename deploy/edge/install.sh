#!/usr/bin/env bash
# Install the GridTokenX edge agent on a Raspberry Pi (Raspberry Pi OS / Debian), idempotently.
#
#   sudo deploy/edge/install.sh [--src DIR] [--prefix /opt/gridtokenx]
#
# Creates the system user `gridx`, a virtualenv in PREFIX with the light `.[edge]` extra only
# (no web3, Solana or database stack), /etc/gridx (config and keys, root:gridx 0750) and
# /var/lib/gridx (the outbox, gridx 0700), and installs edge/deploy/gridx-edge.service.
# It does not enable the service: first copy the config written by `gridx edge provision`
# to /etc/gridx/edge.toml (keys_dir under /etc/gridx/secrets, outbox_path under /var/lib/gridx),
# the broker CA and this edge's password, then `systemctl enable --now gridx-edge`.
set -euo pipefail

src="$(cd "$(dirname "$0")/../.." && pwd)"
prefix=/opt/gridtokenx
while [ $# -gt 0 ]; do
  case "$1" in
    --src) src="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo)" >&2; exit 1; }

need=()
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=900 "${need[@]}"
fi

id gridx >/dev/null 2>&1 || useradd --system --home-dir /var/lib/gridx --shell /usr/sbin/nologin gridx
install -d -o root -g gridx -m 0750 /etc/gridx /etc/gridx/secrets
install -d -o gridx -g gridx -m 0700 /var/lib/gridx
install -d -o root -g root -m 0755 "$prefix"

[ -x "$prefix/.venv/bin/python" ] || python3 -m venv "$prefix/.venv"
"$prefix/.venv/bin/pip" install -q --upgrade pip
# a plain (non-editable) install: the unit reads nothing from the source tree afterwards
"$prefix/.venv/bin/pip" install -q "$src[edge]"

install -o root -g root -m 0644 "$src/edge/deploy/gridx-edge.service" /etc/systemd/system/gridx-edge.service
systemd-analyze verify /etc/systemd/system/gridx-edge.service
systemctl daemon-reload
echo "install.sh: ok; put edge.toml (and edge.env) in /etc/gridx, then: systemctl enable --now gridx-edge"
