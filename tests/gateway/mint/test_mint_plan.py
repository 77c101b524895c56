"""Pure mint-worker decisions: grouping per meter, verdicts after a mint, rate limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.mint import MintJob, MintLimits, Outcome, RateLimiter, group_by_meter, judge_mint, split_behind


def job(i: int, meter: int = 0, window: int = 0, sigs: tuple[str, ...] = ()) -> MintJob:
    reading = {"window_start": window * 900, "window_end": window * 900 + 900}
    return MintJob(i, f"m{meter}", bytes([meter]) * 32, "w", "e", reading, 1000, 1, 0, sigs)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 30)), max_size=60, unique=True), st.integers(1, 8))
def test_one_group_per_meter_oldest_windows_first(keys: list[tuple[int, int]], fit: int) -> None:
    jobs = [job(i, m, w) for i, (m, w) in enumerate(keys)]
    groups = group_by_meter(jobs, lambda g: min(len(g), fit))
    assert len({g[0].meter_pubkey for g in groups}) == len(groups)  # one transaction per meter
    for g in groups:
        mine = sorted(j.window_start for j in jobs if j.meter_pubkey == g[0].meter_pubkey)
        assert [j.window_start for j in g] == mine[: len(g)]  # the oldest, in order
        assert 1 <= len(g) <= fit


def test_solo_rows_go_alone_and_cut_the_group() -> None:
    jobs = [job(0, 0, 0), job(1, 0, 1), job(2, 0, 2)]
    assert [[j.outbox_id for j in g] for g in group_by_meter(jobs, len, frozenset({0}))] == [[0]]
    assert [[j.outbox_id for j in g] for g in group_by_meter(jobs, len, frozenset({1}))] == [[0]]


def test_verdicts_after_a_mint() -> None:
    one, two = [job(0)], [job(0), job(1, window=1)]
    assert [v.outcome for v in judge_mint(two, None)] == [Outcome.CONFIRMED] * 2
    assert [v.outcome for v in judge_mint(one, "MeterNotActive")] == [Outcome.REFUSED]
    # a refused multi-window mint cannot say which window is bad: each goes again alone
    assert {(v.outcome, v.reason) for v in judge_mint(two, "ExceedsRatedPower")} == {
        (Outcome.RETRY, "split:ExceedsRatedPower")
    }
    assert judge_mint(one, "WindowAlreadyMinted", earlier_landed=True)[0].outcome is Outcome.ALREADY_DONE
    assert judge_mint(one, "WindowAlreadyMinted")[0].outcome is Outcome.REFUSED
    # outages, unknown outcomes, a lagging clock and errors we do not know are never final
    for code in ("Unreachable", "Unconfirmed", "WindowInFuture", "SomethingNew"):
        assert judge_mint(one, code)[0].outcome is Outcome.RETRY


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


def test_never_sent_rows_behind_the_high_water_mark_are_behind_chain() -> None:
    """A backfill before its meter's on-chain mark can never be minted: a named verdict, no
    transaction. A row that was sent may be our own mint and is left to its signatures."""
    late, sent_late, ok, other = job(1, 0, 2), job(2, 0, 3, ("sig",)), job(3, 0, 9), job(4, 1, 2)
    groups, behind = split_behind([[late, sent_late, ok], [other]], {bytes([0]) * 32: 5 * 900})
    assert [(v.job.outbox_id, v.outcome) for v in behind] == [(1, Outcome.BEHIND_CHAIN)]
    assert [[j.outbox_id for j in g] for g in groups] == [[2, 3], [4]]
    groups, behind = split_behind([[late]], {bytes([0]) * 32: 5 * 900})
    assert groups == [] and len(behind) == 1
    assert split_behind([[late]], {})[1] == [], "a mark not known yet: 0"
