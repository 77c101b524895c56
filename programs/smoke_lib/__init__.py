"""The LiteSVM smoke run of the three programs (entry: programs/smoke.py).

One module per program's scenario over the shared helpers in `common`; `run` is the order the
steps happen in, because each step builds on the chain state the previous ones left.
"""

from __future__ import annotations

from pathlib import Path

from smoke_lib import energy_token, registry, trading
from smoke_lib.common import Chain

__all__ = ["run"]


def run(so_dir: Path) -> None:
    c = Chain(so_dir)
    reg = registry.setup(c)
    tok = energy_token.setup(c, reg)
    energy_token.mint_three_windows(c, reg, tok)
    energy_token.mint_refusals(c, reg, tok)
    energy_token.revoked_meter_refused(c, reg, tok)
    registry.rotate_authority(c, reg)
    energy_token.remove_minter(c, tok)
    trading.run(c, reg, tok)
    print("SMOKE OK: all instructions executed in LiteSVM")
