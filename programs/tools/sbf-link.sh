#!/usr/bin/env bash
# Linker wrapper used by scripts/build_programs.sh (rustc calls it in place of sbpf-linker).
# Runs sbpf-linker, keeps the intermediate relocatable BPF object it produces, and refuses
# outputs that sbpf-linker 0.1.9 would silently get wrong (see programs/README.md):
#   - relocations outside .text (pointers stored in constants, .data.rel.ro / .rodata, are not
#     relocated by sbpf-linker: the program would read a dangling pointer at run time), and
#   - text sections other than .text (calls into them are left unrelocated).
set -euo pipefail
LINKER="${GRIDX_SBPF_LINKER:?}"
OBJDUMP="${GRIDX_LLVM_READELF:-/usr/lib/llvm-22/bin/llvm-readelf}"
args=("$@")
out=""
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "-o" ]; then out="${args[$((i + 1))]}"; args[$((i + 1))]="${out%.so}.obj"; fi
done
[ -n "$out" ] || { echo "sbf-link: no -o" >&2; exit 2; }
"$LINKER" "${args[@]}"
obj="${out%.so}.obj"
bad=0
relocs="$("$OBJDUMP" -r "$obj" | grep "^Relocation section" | grep -v "'\.rel\.text'" || true)"
if [ -n "$relocs" ]; then
  echo "sbf-link: $obj has data relocations (pointers stored in constants, e.g. a const array of slices);" >&2
  echo "sbf-link: sbpf-linker does not relocate them. Build such values at run time (see common::Seeds)." >&2
  echo "$relocs" >&2
  bad=1
fi
if "$OBJDUMP" -S "$obj" | grep -E '\] \.text\.' >/dev/null; then
  echo "sbf-link: $obj has extra text sections (calls into them would be unrelocated):" >&2
  "$OBJDUMP" -S "$obj" | grep -E '\] \.text' >&2
  bad=1
fi
[ "$bad" = 0 ] || exit 1
mv -f "${out%.so}.so" "$out" 2>/dev/null || true
