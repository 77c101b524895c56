#!/usr/bin/env bash
# Generate what the GridTokenX broker needs into a private directory: a CA, a server
# certificate for the broker's names, the password file (gateway + one user per edge, each
# edge's username = its edge_id), the ACL file and a mosquitto.conf pointing at them.
# Idempotent: existing keys, certificates and passwords are kept (edges already hold them).
#
#   mosquitto/setup.sh [--dir DIR] [--host NAME]... [--gateway NAME]... [--edge EDGE_ID]... [--port N] [--dev]
#
# --dir   default /etc/mosquitto/gridtokenx
# --host  extra DNS name or IP for the server certificate (localhost/127.0.0.1 always included)
# --gateway  a broker user for one gateway process, "gateway" or "gateway-<id>" (default:
#            gateway); each gateway process needs its own (sessions are bound to the user)
# --edge  add a broker user for this edge; its password goes to DIR/passwords/EDGE_ID (0600)
# --dev   listen on 127.0.0.1 only, keep persistence in DIR/data, log to stdout, no `user` switch
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir=/etc/mosquitto/gridtokenx
port=8883
dev=0
hosts=()
edges=()
gateways=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --host) hosts+=("$2"); shift 2 ;;
    --edge)
      if [[ "$2" == gateway* ]]; then echo "setup.sh: edge ids may not start with 'gateway'" >&2; exit 2; fi
      edges+=("$2"); shift 2 ;;
    --gateway)
      if ! [[ "$2" =~ ^gateway(-[A-Za-z0-9_.-]+)?$ ]]; then echo "setup.sh: gateway users are gateway or gateway-<id>" >&2; exit 2; fi
      gateways+=("$2"); shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --dev) dev=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

[ ${#gateways[@]} -gt 0 ] || gateways=(gateway)
umask 077
mkdir -p "$dir/passwords"
chmod 700 "$dir" "$dir/passwords"
cd "$dir"

if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
    -out ca.crt -days 3650 -subj "/CN=GridTokenX broker CA" 2>/dev/null
fi
if [ ! -f server.crt ]; then
  san="DNS:localhost,IP:127.0.0.1"
  for h in "${hosts[@]+"${hosts[@]}"}"; do
    if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then san="$san,IP:$h"; else san="$san,DNS:$h"; fi
  done
  cn="${hosts[0]:-localhost}"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key \
    -out server.csr -subj "/CN=$cn" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
    -days 825 -extfile server.ext 2>/dev/null
  rm -f server.csr
fi
chmod 644 ca.crt server.crt

touch passwd
for user in "${gateways[@]}" "${edges[@]+"${edges[@]}"}"; do
  if [ ! -s "passwords/$user" ]; then
    openssl rand -base64 24 | tr -d '\n/+=' > "passwords/$user"
    mosquitto_passwd -b passwd "$user" "$(cat "passwords/$user")"
  fi
done
# the gateway block of the template, once per gateway user
{
  sed -n '1,/^#@gateway-begin$/p' "$here/aclfile" | sed '$d'
  for g in "${gateways[@]}"; do
    sed -n '/^#@gateway-begin$/,/^#@gateway-end$/p' "$here/aclfile" | sed -e '1d' -e '$d' -e "s/@GATEWAY@/$g/g"
  done
  sed -n '/^#@gateway-end$/,$p' "$here/aclfile" | sed '1d'
} > aclfile

if [ "$dev" = 1 ]; then
  mkdir -p data
  sed -e "s#/etc/mosquitto/gridtokenx#$dir#g" \
      -e "s#^persistence_location .*#persistence_location $dir/data/#" \
      -e "s#^log_dest syslog#log_dest stdout#" \
      -e "s#^listener 8883#listener $port 127.0.0.1#" \
      -e "/^user mosquitto/d" -e "/^pid_file /d" \
      "$here/mosquitto.conf" > mosquitto.conf
  [ "$(id -u)" = 0 ] && echo "user root" >> mosquitto.conf
else
  sed -e "s#/etc/mosquitto/gridtokenx#$dir#g" -e "s#^listener 8883#listener $port#" \
      "$here/mosquitto.conf" > mosquitto.conf
  if [ "$(id -u)" = 0 ] && getent group mosquitto >/dev/null; then
    # mosquitto reads these after dropping to its own user
    chgrp mosquitto "$dir" server.key passwd aclfile
    chmod 750 "$dir"
    chmod 640 server.key passwd aclfile
  fi
fi
chmod 600 ca.key 2>/dev/null || true

echo "broker files in $dir"
echo "  config:   $dir/mosquitto.conf (listener $port, TLS only)"
echo "  CA cert:  $dir/ca.crt  (copy to every edge and the gateway: mqtt_ca_file)"
for user in "${gateways[@]}" "${edges[@]+"${edges[@]}"}"; do
  echo "  password: $dir/passwords/$user  (user $user)"
done
