"""``gridx bench swap`` on the real local stack (anvil, local chain with GRXE minted from signed
readings, PostgreSQL, the relayer process): PostgreSQL is restarted while a swap is in flight
(both locks made, the buyer's claim request not yet recorded), and the swap still completes,
with the bench and the relayer each reconnecting. Figures are printed by the bench, not asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.payments._bench import run_swap_bench

pytestmark = pytest.mark.slow


def test_bench_swap_survives_postgres_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDX_RUN_DIR", str(tmp_path))
    out = run_swap_bench(1, restart_db_at=0)
    assert (out["swaps"], out["failed"]) == (1, 0)
    assert out["db_reconnects"] >= 1  # the restart did cut the bench's connection
