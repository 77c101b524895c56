"""Pure mint-worker decisions: packing, verdicts after a failed transaction, rate limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.mint import MintJob, MintLimits, Outcome, RateLimiter, judge_failed_tx, pack


def job(i: int, meter: int = 0, window: int = 0) -> MintJob:
    return MintJob(i, f"m{meter}", bytes([meter]) * 32, "w", window, 3600, 1000, 1, 0)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=60), st.integers(1, 6))
def test_pack_keeps_order_bounds_size_and_never_repeats_a_window(keys: list[tuple[int, int]], per_tx: int) -> None:
    jobs = [job(i, m, w) for i, (m, w) in enumerate(keys)]
    txs = pack(jobs, per_tx)
    assert [j for tx in txs for j in tx] == jobs
    for tx in txs:
        assert 1 <= len(tx) <= per_tx
        assert len({(j.meter_pubkey, j.window_start) for j in tx}) == len(tx)


def test_failed_tx_judges_only_the_blamed_instruction() -> None:
    jobs = [job(i, i) for i in range(3)]
    verdicts = judge_failed_tx(jobs, 1, "MeterNotActive")
    assert [v.outcome for v in verdicts] == [Outcome.RETRY, Outcome.REFUSED, Outcome.RETRY]
    assert verdicts[1].reason == "MeterNotActive"
    assert judge_failed_tx(jobs, 2, "AlreadyMinted")[2].outcome is Outcome.ALREADY_DONE
    assert {v.outcome for v in judge_failed_tx(jobs, None, "Unreachable")} == {Outcome.RETRY}
    # an error we do not know is never taken as final
    assert judge_failed_tx(jobs, 0, "SomethingNew")[0].outcome is Outcome.RETRY


def test_rate_limiter_per_meter_and_global() -> None:
    rl = RateLimiter(MintLimits(per_meter_per_s=1.0, per_meter_burst=2, global_per_s=10.0, global_burst=3))
    assert [rl.allow("a", 0.0) for _ in range(3)] == [True, True, False]
    assert rl.allow("b", 0.0) is True
    assert rl.allow("c", 0.0) is False  # global burst of 3 spent
    assert rl.allow("a", 1.0) is True  # refilled: 1/s for a, 10/s globally
    # a meter refused by the global ceiling keeps its own token
    rl2 = RateLimiter(MintLimits(per_meter_per_s=1.0, per_meter_burst=1, global_per_s=1.0, global_burst=1))
    assert rl2.allow("x", 0.0) is True
    assert rl2.allow("y", 0.0) is False
    assert rl2.allow("y", 1.0) is True
