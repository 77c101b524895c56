"""Compile our Vyper contracts from source (cached by source hash and compiler version)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridx.paths import run_dir

__all__ = ["CONTRACTS_DIR", "Compiled", "compile_contract"]

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"


@dataclass(frozen=True)
class Compiled:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def compile_contract(name: str) -> Compiled:
    """ABI and deploy bytecode of ``contracts/<name>.vy``; recompiled whenever the source or the
    pinned vyper changes (the cache key), so what runs is always what the source says."""
    import vyper

    src_path = CONTRACTS_DIR / f"{name}.vy"
    source = src_path.read_text()
    key = hashlib.sha256(f"{vyper.__version__}\0{source}".encode()).hexdigest()[:24]
    cache = run_dir() / "evm-build" / f"{name}-{key}.json"
    if cache.exists():
        d = json.loads(cache.read_text())
        return Compiled(name, d["abi"], d["bytecode"])
    from vyper.compiler import compile_code

    out = compile_code(source, output_formats=["abi", "bytecode"], contract_path=str(src_path))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps({"abi": out["abi"], "bytecode": out["bytecode"]}))
    tmp.replace(cache)
    return Compiled(name, out["abi"], out["bytecode"])
