#!/usr/bin/env bash
# Build and install TimescaleDB from the vendored source into the installed PostgreSQL, once.
#
# Debian 12 ships no TimescaleDB package, so tests and CI build the pinned release from a
# tarball (see the vendor README). Idempotent: does nothing when this version's library is
# already installed. The server headers are pinned to the installed server's exact version:
# an extension built against newer headers than the running server may not load.
#
# Environment: GRIDX_VENDOR_DIR (where timescaledb-<version>-src.tar.gz lives; default: the
# first of ./vendor, ../shared/vendor, /work/shared/vendor), GRIDX_PG_FLAVOR=plain skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

TS_VERSION=2.28.3
TS_SHA256=1e55e7a422d1151d96a39c95d82e85133b8690a821e86c22c6b9b77b3246e7ae

if [ "${GRIDX_PG_FLAVOR:-timescaledb}" = plain ]; then
  echo "timescaledb: skipped (GRIDX_PG_FLAVOR=plain)"
  exit 0
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/postgres" ] || { echo "timescaledb: no PostgreSQL server installed (run scripts/setup.sh)" >&2; exit 1; }
major=$(basename "$(dirname "$bindir")")
pkglib=/usr/lib/postgresql/$major/lib
if [ -f "$pkglib/timescaledb-$TS_VERSION.so" ] \
   && [ -f "/usr/share/postgresql/$major/extension/timescaledb--$TS_VERSION.sql" ]; then
  echo "timescaledb: $TS_VERSION already installed for PostgreSQL $major"
  exit 0
fi

tarball=""
for dir in ${GRIDX_VENDOR_DIR:-} vendor ../shared/vendor /work/shared/vendor; do
  if [ -f "$dir/timescaledb-$TS_VERSION-src.tar.gz" ]; then tarball="$dir/timescaledb-$TS_VERSION-src.tar.gz"; break; fi
done
[ -n "$tarball" ] || {
  echo "timescaledb: timescaledb-$TS_VERSION-src.tar.gz not found; set GRIDX_VENDOR_DIR" \
       "(or run with GRIDX_PG_FLAVOR=plain to use plain PostgreSQL)" >&2
  exit 1
}
echo "$TS_SHA256  $tarball" | sha256sum -c --quiet - || { echo "timescaledb: checksum mismatch for $tarball" >&2; exit 1; }

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# the installed server's exact Debian version, e.g. 15.18-0+deb12u1
server_pkg=postgresql-$major
server_ver=$(dpkg-query -W -f='${Version}' "$server_pkg")
if [ "$(dpkg-query -W -f='${Version}' "postgresql-server-dev-$major" 2>/dev/null || true)" != "$server_ver" ]; then
  echo "timescaledb: installing postgresql-server-dev-$major=$server_ver and build tools"
  $SUDO apt-get update -qq -o DPkg::Lock::Timeout=900
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=900 "postgresql-server-dev-$major=$server_ver" cmake gcc make libssl-dev >/dev/null
fi

work=.run/build/timescaledb-$TS_VERSION
rm -rf "$work" && mkdir -p "$work"
tar xzf "$tarball" -C "$work" --strip-components=1
echo "timescaledb: building $TS_VERSION (about 1.5 minutes on 2 cores)"
(
  cd "$work"
  ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DLINTER=OFF \
    -DCMAKE_BUILD_TYPE=Release -DPG_CONFIG="$bindir/pg_config" >build.log 2>&1 \
    || { tail -40 build.log >&2; exit 1; }
  make -C build -j"$(nproc)" >>build.log 2>&1 || { tail -40 build.log >&2; exit 1; }
  $SUDO make -C build install >>build.log 2>&1 || { tail -40 build.log >&2; exit 1; }
)
rm -rf "$work"
echo "timescaledb: $TS_VERSION installed for PostgreSQL $major"
