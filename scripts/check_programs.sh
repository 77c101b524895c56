#!/usr/bin/env bash
# Verify the committed program artifacts:
#   1. programs/idl/*.json and programs/*/src/generated.rs match programs/idl/gen_idl.py
#   2. rebuilding the programs from source gives byte-identical programs/deploy/*.so
#      (the build is byte-reproducible: see programs/README.md "Reproducibility")
#   3. if a Python with solders (LiteSVM) + anchorpy is available, programs/smoke.py passes
#      against the fresh build.
# Usage: scripts/check_programs.sh [OUT_DIR]  (installs the SBF toolchain first if missing;
#        the fresh build is kept in OUT_DIR when given, so the tests can run against it)
#        PYTHON=/path/to/python scripts/check_programs.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

python3 programs/idl/gen_idl.py --check
echo "IDLs and generated.rs are up to date"

if [ ! -x "${GRIDX_SBF_ROOT:-/opt/gridx-sbf}/bin/sbpf-linker" ] || [ ! -x /usr/bin/rustc ]; then
  scripts/setup_sbf_toolchain.sh
fi
if [ -n "${1:-}" ]; then
  OUT="$1"; rm -rf "$OUT"; mkdir -p "$OUT"
else
  OUT="$(mktemp -d)"
  trap 'rm -rf "$OUT"' EXIT
fi
scripts/build_programs.sh "$OUT"
status=0
for p in registry energy_token trading; do
  if cmp -s "$OUT/$p.so" "programs/deploy/$p.so"; then
    echo "OK   programs/deploy/$p.so is reproducible ($(sha256sum "$OUT/$p.so" | cut -c1-16))"
  else
    echo "DIFF programs/deploy/$p.so differs from a fresh build: run scripts/build_programs.sh and commit" >&2
    status=1
  fi
done

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for c in "$ROOT/.venv/bin/python" python3; do
    if "$c" -c "import solders.litesvm, anchorpy" 2>/dev/null; then PY="$c"; break; fi
  done
fi
if [ -n "$PY" ]; then
  "$PY" programs/smoke.py "$OUT" || status=1
else
  echo "skip smoke: no Python with solders.litesvm + anchorpy (pip install anchorpy3==0.4.5)"
fi
exit $status
